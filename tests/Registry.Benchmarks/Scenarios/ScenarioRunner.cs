using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Registry.Benchmarks.Reporting;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// Pushes the fixtures to every target, then runs each scenario case on each target back to back, round
/// after round, with the order flipped every round (A,B then B,A ...), and writes the results.
/// </summary>
internal sealed class ScenarioRunner
{
    private static readonly TimeSpan SetupTimeout = TimeSpan.FromMinutes(5);
    private static readonly TimeSpan Pause = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan IdleSettle = TimeSpan.FromSeconds(3);

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    private readonly BenchOptions _options;
    private readonly IReadOnlyList<RegistryTarget> _targets;
    private readonly Fixtures _fixtures;
    private readonly Dictionary<string, IScenario> _scenarios;

    // Each target's RSS before any request, and again once the fixtures are in and it has settled.
    private readonly List<IdleMemory> _idle = [];

    public ScenarioRunner(BenchOptions options, IReadOnlyList<RegistryTarget> targets, Fixtures fixtures)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(fixtures);
        _options = options;
        _targets = targets;
        _fixtures = fixtures;
        IScenario[] all =
        [
            new ManifestStormScenario(), new BlobDownloadScenario(), new BlobPushScenario(), new FullPullScenario(),
            new AbandonScenario(), new AdmissionScenario(), new OverloadScenario(),
        ];
        _scenarios = all.ToDictionary(s => s.Name, StringComparer.Ordinal);
        foreach (var name in options.Scenarios)
        {
            if (!_scenarios.ContainsKey(name))
            {
                throw new ArgumentException($"unknown scenario '{name}'; known: {string.Join(',', _scenarios.Keys)}");
            }
        }
    }

    public async Task<IReadOnlyList<RunResult>> RunAsync(CancellationToken cancellationToken)
    {
        foreach (var target in _targets)
        {
            var atStart = target.Pids.Count > 0 ? Monitoring.ServerMonitor.SampleOnce(target.Pids).RssMiB : double.NaN;
            if (!target.IsStaticServer)
            {
                // A static server was given the fixtures as files when it started.
                using var setup = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                setup.CancelAfter(SetupTimeout);
                Console.WriteLine($"setup {target.Label} {target.BaseUri}: pushing {Fixtures.ImageRepository}:{Fixtures.ImageTag} ({_fixtures.ManifestDigest}) and {Fixtures.BigRepository}");
                await FixtureSetup.PushAsync(target, _fixtures, setup.Token);
            }

            await Task.Delay(IdleSettle, cancellationToken);
            var afterFixtures = target.Pids.Count > 0 ? Monitoring.ServerMonitor.SampleOnce(target.Pids).RssMiB : double.NaN;
            _idle.Add(new IdleMemory(target.Label, atStart, afterFixtures));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"idle {target.Label}: RSS {atStart:F1} MiB at start, {afterFixtures:F1} MiB after the fixtures"));
        }

        var results = new List<RunResult>();
        for (var round = 1; round <= _options.Rounds; round++)
        {
            var order = round % 2 == 1 ? _targets : _targets.Reverse().ToList();
            var s1Baselines = new Dictionary<string, RunResult>(StringComparer.Ordinal);
            foreach (var name in _options.Scenarios)
            {
                var scenario = _scenarios[name];
                foreach (var scenarioCase in scenario.Cases(_options))
                {
                    foreach (var target in order)
                    {
                        if (target.IsStaticServer && !NginxServer.Scenarios.Contains(name))
                        {
                            continue;
                        }

                        var context = new ScenarioContext
                        {
                            Target = target,
                            Options = _options,
                            Fixtures = _fixtures,
                            Round = round,
                            S1Baseline = s1Baselines.GetValueOrDefault(target.Label),
                        };
                        var before = await Monitoring.PrometheusScrape.TryTakeAsync(target.MetricsUri, cancellationToken);
                        var result = await scenario.RunAsync(context, scenarioCase, cancellationToken);

                        // A run cut short by a signal is not a measurement.
                        cancellationToken.ThrowIfCancellationRequested();
                        var after = await Monitoring.PrometheusScrape.TryTakeAsync(target.MetricsUri, cancellationToken);
                        Monitoring.PrometheusScrape.Fill(before, after, result.Extra);
                        results.Add(result);
                        if (name == "s1" && scenarioCase.Clients == 64)
                        {
                            s1Baselines[target.Label] = result;
                        }

                        Console.WriteLine(string.Create(
                            CultureInfo.InvariantCulture,
                            $"round {round} {target.Label,-6} {name,-9} {scenarioCase.Variant,-9} c={scenarioCase.Clients,-5} ops/s={result.OpsPerSecond,9:F1} MiB/s={result.MiBPerSecond,8:F1} p99={result.P99Ms,8:F2}ms err={result.Errors} cpu/op={result.ServerCpuMsPerOp:F3}ms rss={result.RssPeakMiB:F0}MiB"));
                        await Task.Delay(Pause, cancellationToken);
                    }
                }
            }
        }

        return results;
    }

    public async Task WriteAsync(IReadOnlyList<RunResult> results, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(_options.OutDir);
        var registries = _targets.Where(t => !t.IsStaticServer).ToList();
        var labelA = registries[0].Label;
        var labelB = registries.Count > 1 ? registries[1].Label : null;
        var table = Summary.Render(results, labelA, labelB, _targets.FirstOrDefault(t => t.IsStaticServer)?.Label);
        var header = Environment();
        Console.WriteLine();
        Console.WriteLine(header);
        Console.WriteLine(table);

        await File.WriteAllTextAsync(Path.Combine(_options.OutDir, "summary.txt"), header + "\n" + table, cancellationToken);
        await using (var json = File.Create(Path.Combine(_options.OutDir, "results.json")))
        {
            await JsonSerializer.SerializeAsync(json, results, JsonOptions, cancellationToken);
        }

        await using (var json = File.Create(Path.Combine(_options.OutDir, "idle.json")))
        {
            await JsonSerializer.SerializeAsync(json, _idle, JsonOptions, cancellationToken);
        }

        Console.WriteLine($"wrote {Path.GetFullPath(_options.OutDir)}/results.json, idle.json and summary.txt");
    }

    private string Environment()
    {
        var cpu = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
            : null;
        var targets = string.Join("; ", _targets.Select(t => $"{t.Label}={t.BaseUri} pids={string.Join(',', t.Pids)}"));
        var idle = string.Join("; ", _idle.Select(i => string.Create(
            CultureInfo.InvariantCulture, $"{i.Label} {i.RssAtStartMib:F1} MiB at start, {i.RssAfterFixturesMib:F1} MiB after the fixtures")));
        if (_idle.Count >= 2 && _targets.Count >= 2 && !_targets[1].IsStaticServer && _idle[0].RssAfterFixturesMib > 0 && _idle[1].RssAfterFixturesMib > 0)
        {
            idle += string.Create(CultureInfo.InvariantCulture, $" (ratio after the fixtures {_idle[0].RssAfterFixturesMib / _idle[1].RssAfterFixturesMib:F2}x)");
        }

        return string.Create(
            CultureInfo.InvariantCulture,
            $"""
            machine: {System.Environment.ProcessorCount} CPUs ({cpu ?? "unknown"}), {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {System.Environment.Version}
            run: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC, rounds={_options.Rounds}, duration={_options.Duration.TotalSeconds}s, warmup={_options.Warmup.TotalSeconds}s, scenarios={string.Join(',', _options.Scenarios)}
            targets: {targets}
            idle RSS: {idle}
            """);
    }
}

/// <summary>A target's resident memory before any request and once the fixtures are in (MiB; NaN without a pid).</summary>
internal sealed record IdleMemory(string Label, double RssAtStartMib, double RssAfterFixturesMib);
