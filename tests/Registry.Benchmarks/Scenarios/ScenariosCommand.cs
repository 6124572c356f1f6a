using System.Globalization;

namespace Registry.Benchmarks.Scenarios;

/// <summary>The "scenarios" command: reads its options, starts distribution if asked, runs and reports.</summary>
internal static class ScenariosCommand
{
    /// <summary>The label of the static file server started by --start-nginx.</summary>
    public const string StaticLabel = "nginx";

    public const string Usage = """
        scenarios --a URL [--a-label ours] [--a-pid PID[,PID]] [--a-uploads-glob PATTERN] [--a-metrics URL]
                  [--b URL --b-label dist --b-pid PID [--b-metrics URL] | --start-distribution PORT] [--start-nginx PORT]
                  [--rounds 3] [--duration 15s] [--warmup 2s] [--scenarios s1,s2,s3,s4,s5,admission,overload]
                  [--s1-clients 64,256] [--clients 16] [--admission-clients 1024] [--s5-clients 500]
                  [--s5-settle 10s] [--max-pushes 20000] [--overload-factor 10] [--overload-max-inflight 2048]
                  [--out DIR]
        """;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        Dictionary<string, string> values;
        try
        {
            values = ParseArgs(args);
        }
        catch (ArgumentException ex)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        if (values.ContainsKey("help") || !values.TryGetValue("a", out var urlA))
        {
            await Console.Error.WriteLineAsync(Usage);
            return values.ContainsKey("help") ? 0 : 2;
        }

        // Every option is read and checked before any server starts: a mistake costs a line and the usage.
        BenchOptions options;
        RegistryTarget targetA;
        RegistryTarget? targetB = null;
        int? distributionPort;
        int? nginxPort;
        try
        {
            options = new BenchOptions
            {
                Rounds = Int(values, "rounds", 3),
                Duration = Duration(values, "duration", TimeSpan.FromSeconds(15)),
                Warmup = Duration(values, "warmup", TimeSpan.FromSeconds(2)),
                Scenarios = values.TryGetValue("scenarios", out var list) ? Split(list) : BenchOptions.AllScenarios,
                OutDir = values.GetValueOrDefault("out") ?? $"bench-results/{DateTime.UtcNow:yyyyMMdd-HHmmss}",
                S1Clients = values.TryGetValue("s1-clients", out var s1) ? Split(s1).Select(ParseInt).ToArray() : [64, 256],
                StreamClients = Int(values, "clients", 16),
                AdmissionClients = Int(values, "admission-clients", 1024),
                S5Clients = Int(values, "s5-clients", 500),
                S5Settle = Duration(values, "s5-settle", TimeSpan.FromSeconds(10)),
                MaxPushes = Int(values, "max-pushes", 20_000),
                OverloadFactor = Double(values, "overload-factor", 10),
                OverloadMaxInFlight = Int(values, "overload-max-inflight", 2048),
            };
            options.Validate();
            distributionPort = Port(values, "start-distribution");
            nginxPort = Port(values, "start-nginx");
            targetA = new RegistryTarget(
                values.GetValueOrDefault("a-label") ?? "ours", new Uri(urlA), Pids(values, "a-pid"), values.GetValueOrDefault("a-uploads-glob"),
                values.TryGetValue("a-metrics", out var metricsA) ? new Uri(metricsA) : null);
            if (distributionPort is null && values.TryGetValue("b", out var urlB))
            {
                targetB = new RegistryTarget(
                    values.GetValueOrDefault("b-label") ?? "b", new Uri(urlB), Pids(values, "b-pid"), values.GetValueOrDefault("b-uploads-glob"),
                    values.TryGetValue("b-metrics", out var metricsB) ? new Uri(metricsB) : null);
            }

            var labelB = distributionPort is not null ? values.GetValueOrDefault("b-label") ?? "dist" : targetB?.Label;
            if (nginxPort is not null && (targetA.Label == StaticLabel || labelB == StaticLabel))
            {
                throw new ArgumentException($"the label '{StaticLabel}' belongs to the static server started by --start-nginx");
            }

            if (targetA.Label == labelB)
            {
                throw new ArgumentException("--a-label and --b-label must differ");
            }
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or OverflowException)
        {
            await Console.Error.WriteLineAsync(ex.Message);
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        if (nginxPort is not null && !options.Scenarios.Any(NginxServer.Scenarios.Contains))
        {
            Console.WriteLine($"--start-nginx ignored: none of the scenarios ({string.Join(',', options.Scenarios)}) runs against a static server");
            nginxPort = null;
        }

        var targets = new List<RegistryTarget> { targetA };
        if (targetB is not null)
        {
            targets.Add(targetB);
        }

        var fixtures = Fixtures.Create();
        DistributionServer? distribution = null;
        NginxServer? nginx = null;
        try
        {
            if (distributionPort is { } port)
            {
                distribution = await DistributionServer.StartAsync(port, cancellationToken);
                Console.WriteLine($"started docker-registry pid {distribution.Pid} on 127.0.0.1:{distribution.Port}, storage {distribution.StorageRoot}");
                targets.Add(new RegistryTarget(
                    values.GetValueOrDefault("b-label") ?? "dist",
                    new Uri($"http://127.0.0.1:{distribution.Port}"),
                    [distribution.Pid],
                    distribution.UploadsGlob));
            }

            if (nginxPort is { } staticPort)
            {
                nginx = await NginxServer.StartAsync(staticPort, fixtures, cancellationToken);
                Console.WriteLine($"started nginx pid {nginx.Pid} on 127.0.0.1:{nginx.Port}, files in {nginx.Root} (runs {string.Join(',', NginxServer.Scenarios)})");
                targets.Add(new RegistryTarget(StaticLabel, new Uri($"http://127.0.0.1:{nginx.Port}"), [nginx.Pid], null) { IsStaticServer = true });
            }

            var runner = new ScenarioRunner(options, targets, fixtures);
            var results = await runner.RunAsync(cancellationToken);
            await runner.WriteAsync(results, cancellationToken);
            return 0;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("scenarios: stopped by a signal; no results written");
            return 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or IOException or System.Net.Sockets.SocketException or HttpRequestException)
        {
            // A server that would not start or a registry that cannot be reached: one line, not a stack trace.
            await Console.Error.WriteLineAsync($"scenarios: {ex.Message}");
            return 1;
        }
        finally
        {
            if (distribution is not null)
            {
                await distribution.DisposeAsync();
                Console.WriteLine($"stopped docker-registry pid {distribution.Pid}");
            }

            if (nginx is not null)
            {
                await nginx.DisposeAsync();
                Console.WriteLine($"stopped nginx pid {nginx.Pid}");
            }
        }
    }

    internal static Dictionary<string, string> ParseArgs(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal))
            {
                throw new ArgumentException($"unexpected argument '{args[i]}'");
            }

            var name = args[i][2..];
            var eq = name.IndexOf('=');
            if (eq >= 0)
            {
                values[name[..eq]] = name[(eq + 1)..];
            }
            else if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
            {
                values[name] = args[++i];
            }
            else
            {
                values[name] = "true";
            }
        }

        return values;
    }

    private static string[] Split(string list) =>
        list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static int ParseInt(string text) => int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);

    private static int? Port(Dictionary<string, string> values, string name)
    {
        if (!values.TryGetValue(name, out var text))
        {
            return null;
        }

        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port is > 0 and < 65536
            ? port
            : throw new ArgumentException($"--{name} needs a port number from 1 to 65535, not '{text}'");
    }

    private static int Int(Dictionary<string, string> values, string name, int fallback) =>
        values.TryGetValue(name, out var text) ? ParseInt(text) : fallback;

    private static double Double(Dictionary<string, string> values, string name, double fallback) =>
        values.TryGetValue(name, out var text) ? double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture) : fallback;

    private static int[] Pids(Dictionary<string, string> values, string name) =>
        values.TryGetValue(name, out var text) ? Split(text).Select(ParseInt).ToArray() : [];

    /// <summary>Reads "15s", "500ms", "2m" or a plain number of seconds.</summary>
    internal static TimeSpan Duration(Dictionary<string, string> values, string name, TimeSpan fallback)
    {
        if (!values.TryGetValue(name, out var text))
        {
            return fallback;
        }

        static double Number(string s) => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture);
        return text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => TimeSpan.FromMilliseconds(Number(text[..^2])),
            _ when text.EndsWith('s') => TimeSpan.FromSeconds(Number(text[..^1])),
            _ when text.EndsWith('m') => TimeSpan.FromMinutes(Number(text[..^1])),
            _ => TimeSpan.FromSeconds(Number(text)),
        };
    }
}
