using System.Diagnostics;
using System.Globalization;
using Registry.Benchmarks.Monitoring;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// The "soak" command: mixed load for a long, bounded time. It runs short cycles of the chosen scenarios
/// (manifest storm, pushes, pulls, abandoned transfers) back to back against one registry and reads the
/// server's memory, threads and descriptors after every cycle, then reports whether they stayed flat.
/// </summary>
internal static class SoakCommand
{
    public const string Usage = """
        soak --a URL --a-pid PID[,PID] [--a-metrics URL] [--soak 10m] [--cycle 5s] [--scenarios s1,s3,s4,s5] [--max-pushes 100] [--out DIR]
        """;

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var values = ScenariosCommand.ParseArgs(args);
        if (!values.TryGetValue("a", out var url) || !values.TryGetValue("a-pid", out var pidList))
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        var pids = pidList.Split(',').Select(p => int.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        var target = new RegistryTarget("ours", new Uri(url), pids, null, values.TryGetValue("a-metrics", out var m) ? new Uri(m) : null);
        var total = ScenariosCommand.Duration(values, "soak", TimeSpan.FromMinutes(10));
        var options = new BenchOptions
        {
            Rounds = 1,
            Duration = ScenariosCommand.Duration(values, "cycle", TimeSpan.FromSeconds(5)),
            Warmup = TimeSpan.FromSeconds(1),
            Scenarios = (values.GetValueOrDefault("scenarios") ?? "s1,s3,s4,s5").Split(',', StringSplitOptions.RemoveEmptyEntries),
            S1Clients = [64],
            S5Clients = 100,
            S5Settle = TimeSpan.FromSeconds(2),
            MaxPushes = values.TryGetValue("max-pushes", out var mp) ? long.Parse(mp, CultureInfo.InvariantCulture) : 100,
            OutDir = values.GetValueOrDefault("out") ?? $"bench-results/soak-{DateTime.UtcNow:yyyyMMdd-HHmmss}",
        };

        var runner = new ScenarioRunner(options, [target], Fixtures.Create());
        var started = Stopwatch.GetTimestamp();
        var samples = new List<(double Minutes, ServerSample Sample)> { (0, ServerMonitor.SampleOnce(pids)) };
        var results = new List<Reporting.RunResult>();
        var errors = 0L;
        var cycles = 0;
        while (Stopwatch.GetElapsedTime(started) < total && !cancellationToken.IsCancellationRequested)
        {
            var cycle = await runner.RunAsync(cancellationToken);
            results.AddRange(cycle);
            errors += cycle.Where(r => r.Scenario != "s5").Sum(r => r.Errors);
            cycles++;
            samples.Add((Stopwatch.GetElapsedTime(started).TotalMinutes, ServerMonitor.SampleOnce(pids)));
        }

        Directory.CreateDirectory(options.OutDir);
        await runner.WriteAsync(results, cancellationToken);

        // Flat means: after the first cycles (warm-up, pools filling) memory neither climbs nor drifts.
        var settled = samples.Skip(Math.Min(3, samples.Count - 1)).ToList();
        var slope = Slope(settled.Select(s => (s.Minutes, s.Sample.RssMiB)).ToList());
        var report = new System.Text.StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"soak: {cycles} cycles of {string.Join(',', options.Scenarios)} ({options.Duration.TotalSeconds:F0} s each) in {Stopwatch.GetElapsedTime(started).TotalMinutes:F1} min; errors outside s5: {errors}");
        report.AppendLine("minute   rssMiB  threads  fds");
        foreach (var (minutes, sample) in samples)
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"{minutes,6:F1} {sample.RssMiB,8:F1} {sample.Threads,8} {sample.Fds,4}");
        }

        report.AppendLine(CultureInfo.InvariantCulture,
            $"rss after warm-up {settled[0].Sample.RssMiB:F1} MiB, at the end {settled[^1].Sample.RssMiB:F1} MiB, peak {settled.Max(s => s.Sample.RssMiB):F1} MiB, trend {slope:F2} MiB/min");
        report.AppendLine(CultureInfo.InvariantCulture,
            $"threads {settled[0].Sample.Threads} -> {settled[^1].Sample.Threads}, fds {settled[0].Sample.Fds} -> {settled[^1].Sample.Fds}");
        Console.WriteLine(report);
        await File.WriteAllTextAsync(Path.Combine(options.OutDir, "soak.txt"), report.ToString(), cancellationToken);
        return 0;
    }

    // Least-squares slope of y over x.
    private static double Slope(IReadOnlyList<(double X, double Y)> points)
    {
        if (points.Count < 2)
        {
            return double.NaN;
        }

        var meanX = points.Average(p => p.X);
        var meanY = points.Average(p => p.Y);
        var numerator = points.Sum(p => (p.X - meanX) * (p.Y - meanY));
        var denominator = points.Sum(p => (p.X - meanX) * (p.X - meanX));
        return denominator == 0 ? double.NaN : numerator / denominator;
    }
}
