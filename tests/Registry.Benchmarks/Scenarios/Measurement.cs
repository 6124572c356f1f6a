using Registry.Benchmarks.Monitoring;
using Registry.Benchmarks.Reporting;

namespace Registry.Benchmarks.Scenarios;

/// <summary>Runs an unmeasured warm-up, then the measured loop under the server monitor, and fills a result.</summary>
internal static class Measurement
{
    public static async Task<RunResult> RunAsync(
        ScenarioContext context,
        string scenario,
        string variant,
        int clients,
        long maxOps,
        Func<int, CancellationToken, ValueTask<string?>> operation,
        Action<int>? prepare,
        ByteCounter? bytes,
        CancellationToken cancellationToken,
        Action? beforeMeasure = null)
    {
        var options = context.Options;
        if (options.Warmup > TimeSpan.Zero)
        {
            await LoadLoop.RunAsync(clients, options.Warmup, maxOps, operation, prepare, cancellationToken);
        }

        bytes?.Reset();
        beforeMeasure?.Invoke();
        await using var monitor = ServerMonitor.Start(context.Target.Pids);
        var loop = await LoadLoop.RunAsync(clients, options.Duration, maxOps, operation, prepare, cancellationToken);
        var usage = await monitor.StopAsync();
        var result = NewResult(context, scenario, variant, clients);
        Fill(result, loop, usage, bytes?.Value ?? 0);
        return result;
    }

    public static RunResult NewResult(ScenarioContext context, string scenario, string variant, int clients) => new()
    {
        Round = context.Round,
        Label = context.Target.Label,
        Url = context.Target.BaseUri.ToString(),
        Scenario = scenario,
        Variant = variant,
        Clients = clients,
    };

    public static void Fill(RunResult result, LoopResult loop, MonitorResult usage, long bytes)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(loop);
        ArgumentNullException.ThrowIfNull(usage);
        Array.Sort(loop.SuccessTicks);
        var wall = loop.WallSeconds;
        result.WallSeconds = Math.Round(wall, 3);
        result.Ops = loop.SuccessTicks.Length;
        result.Errors = loop.FailureTicks.Length;
        result.ErrorKinds = loop.ErrorKinds;
        result.OpsPerSecond = result.Ops / wall;
        result.MiBPerSecond = bytes / 1048576.0 / wall;
        result.P50Ms = LoadLoop.PercentileMs(loop.SuccessTicks, 50);
        result.P90Ms = LoadLoop.PercentileMs(loop.SuccessTicks, 90);
        result.P99Ms = LoadLoop.PercentileMs(loop.SuccessTicks, 99);
        result.P999Ms = LoadLoop.PercentileMs(loop.SuccessTicks, 99.9);
        result.MaxMs = LoadLoop.PercentileMs(loop.SuccessTicks, 100);
        FillUsage(result, usage, result.Ops + result.Errors);
    }

    public static void FillUsage(RunResult result, MonitorResult usage, long operations)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(usage);
        result.ServerCpuSeconds = usage.ServerCpuSeconds;
        result.ServerCpuMsPerOp = operations > 0 ? usage.ServerCpuSeconds * 1000.0 / operations : double.NaN;
        result.ServerCpuPercent = usage.ServerCpuSeconds / usage.WallSeconds * 100.0;
        result.ClientCpuSeconds = usage.ClientCpuSeconds;
        result.ClientCpuPercent = usage.ClientCpuSeconds / usage.WallSeconds * 100.0;
        result.RssStartMiB = usage.RssStartMiB;
        result.RssPeakMiB = usage.RssPeakMiB;
        result.RssEndMiB = usage.RssEndMiB;
        result.ThreadsStart = usage.ThreadsStart;
        result.ThreadsPeak = usage.ThreadsPeak;
        result.ThreadsEnd = usage.ThreadsEnd;
        result.FdsStart = usage.FdsStart;
        result.FdsPeak = usage.FdsPeak;
        result.FdsEnd = usage.FdsEnd;
    }
}
