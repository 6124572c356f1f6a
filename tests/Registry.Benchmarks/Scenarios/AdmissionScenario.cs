using Registry.Benchmarks.Reporting;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// Overload: far more keep-alive clients than the registry can serve hammer the manifest GET. Counts
/// admitted (200) against shed (429/503) answers, compares admitted latency with S1 at 64 clients in the
/// same round, and watches memory stay flat.
/// </summary>
internal sealed class AdmissionScenario : IScenario
{
    public string Name => "admission";

    public IReadOnlyList<ScenarioCase> Cases(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return [new ScenarioCase("GET-tag", options.AdmissionClients)];
    }

    public async Task<RunResult> RunAsync(ScenarioContext context, ScenarioCase scenarioCase, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var retryAfter = new ByteCounter();
        using var storm = new ManifestStorm(context, scenarioCase.Clients, bufferSize: 4 * 1024) { RetryAfter = retryAfter };
        var result = await Measurement.RunAsync(
            context, Name, scenarioCase.Variant, scenarioCase.Clients, context.Options.MaxOps, storm.GetAsync, null, null,
            cancellationToken, retryAfter.Reset);

        var shed = result.ErrorKinds.GetValueOrDefault("status_429") + result.ErrorKinds.GetValueOrDefault("status_503");
        var extra = result.Extra;
        extra["admitted_per_s"] = result.OpsPerSecond;
        extra["shed_per_s"] = shed / result.WallSeconds;
        extra["shed_429"] = result.ErrorKinds.GetValueOrDefault("status_429");
        extra["shed_503"] = result.ErrorKinds.GetValueOrDefault("status_503");
        extra["shed_fraction"] = result.Ops + result.Errors > 0 ? (double)shed / (result.Ops + result.Errors) : 0;
        extra["other_errors"] = result.Errors - shed;
        extra["retry_after_seen"] = retryAfter.Value;
        extra["rss_growth_mib"] = result.RssEndMiB - result.RssStartMiB;
        if (context.S1Baseline is { } baseline && baseline.P99Ms > 0)
        {
            extra["p50_vs_s1_c64"] = result.P50Ms / baseline.P50Ms;
            extra["p99_vs_s1_c64"] = result.P99Ms / baseline.P99Ms;
        }

        return result;
    }
}
