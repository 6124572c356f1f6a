using System.Globalization;
using Registry.Benchmarks.Monitoring;
using Registry.Benchmarks.Reporting;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// Overload, open loop: 64 KiB blob pushes (POST, then PUT ?digest= with the body) arrive at a fixed rate,
/// whatever the registry answers. A closed-loop calibration finds the capacity C, half of C gives the
/// unloaded latency, and then <see cref="BenchOptions.OverloadFactor"/> x C is offered for the measured
/// phase. Shows whether admitted pushes keep their latency, the rest get a fast 429/503 with Retry-After,
/// memory stays flat, and two manifest-GET probes beside the pushes are left alone.
/// </summary>
internal sealed class OverloadScenario : IScenario
{
    private const int BlobSize = 64 * 1024;
    private const int ProbeClients = 2;
    private const string Repository = "bench/overload";
    private const string ShedPrefix = "shed_";
    private const string NoRetryAfter = "_no_retry_after";
    private static readonly TimeSpan MinCalibration = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan MinHalfLoad = TimeSpan.FromSeconds(3);

    public string Name => "overload";

    /// <summary>The push's outcome kind: shed answers keep their connection, other failures close it.</summary>
    public static OpenLoopOutcome Classify(string? error, bool retryAfter) => error switch
    {
        null => OpenLoopOutcome.Success,
        "post_429" or "post_503" or "put_429" or "put_503" =>
            new OpenLoopOutcome(ShedPrefix + error + (retryAfter ? string.Empty : NoRetryAfter), KeepConnection: true),
        _ => OpenLoopOutcome.Failed(error),
    };

    public IReadOnlyList<ScenarioCase> Cases(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);

        // Clients is the generator's concurrency cap: an open loop has no fixed number of clients.
        return [new ScenarioCase("push-64k", options.OverloadMaxInFlight)];
    }

    public async Task<RunResult> RunAsync(ScenarioContext context, ScenarioCase scenarioCase, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var options = context.Options;
        using var blobs = new UniqueBlobs(BlobSize);
        var result = Measurement.NewResult(context, Name, scenarioCase.Variant, scenarioCase.Clients);
        var extra = result.Extra;

        // 1. Calibration, closed loop (after the usual unmeasured warm-up): capacity C in pushes/s.
        if (options.Warmup > TimeSpan.Zero)
        {
            await ClosedLoopAsync(context, blobs, options.Warmup, cancellationToken);
        }

        var calibration = await ClosedLoopAsync(context, blobs, Max(MinCalibration, options.Duration / 3), cancellationToken);
        Array.Sort(calibration.SuccessTicks);
        var capacity = calibration.SuccessTicks.Length / calibration.WallSeconds;
        extra["capacity_per_s"] = capacity;
        extra["calib_p50_ms"] = LoadLoop.PercentileMs(calibration.SuccessTicks, 50);
        extra["calib_p99_ms"] = LoadLoop.PercentileMs(calibration.SuccessTicks, 99);
        extra["factor"] = options.OverloadFactor;
        if (calibration.SuccessTicks.Length == 0)
        {
            // Nothing was pushed: there is no capacity to scale, so report the calibration's errors only.
            result.Errors = calibration.FailureTicks.Length;
            result.ErrorKinds = calibration.ErrorKinds;
            result.P50Ms = result.P90Ms = result.P99Ms = result.P999Ms = result.MaxMs = double.NaN;
            return result;
        }

        // 2. Half load, open loop: the admitted latency of an unloaded registry.
        var half = await OpenPhaseAsync(context, blobs, capacity / 2, Max(MinHalfLoad, options.Duration / 2), cancellationToken);
        var halfP50 = LoadLoop.PercentileMs(half.Pushes.SuccessTicks, 50);
        var halfP99 = LoadLoop.PercentileMs(half.Pushes.SuccessTicks, 99);
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"  {Name} {context.Target.Label}: capacity {capacity:F1}/s (closed loop, c={options.StreamClients}, p99 {extra["calib_p99_ms"]:F1} ms); half load {capacity / 2:F1}/s: p99 {halfP99:F1} ms, {half.Pushes.Failures} failed; now offering {capacity * options.OverloadFactor:F1}/s"));

        // 3. Overload, open loop at factor x C, under the server monitor.
        var uploadsBefore = UploadDirs.Count(context.Target.UploadsGlob);
        PhaseResult over;
        MonitorResult usage;
        await using (var monitor = ServerMonitor.Start(context.Target.Pids))
        {
            over = await OpenPhaseAsync(context, blobs, capacity * options.OverloadFactor, options.Duration, cancellationToken);
            usage = await monitor.StopAsync();
        }

        if (uploadsBefore >= 0)
        {
            // Upload sessions left open: a push shed at its PUT leaves the session its POST opened.
            extra["upload_dirs_delta"] = UploadDirs.Count(context.Target.UploadsGlob) - uploadsBefore;
        }

        Fill(result, over, usage);
        var pushes = over.Pushes;
        var shed = Shed(pushes);
        var answered = pushes.SuccessTicks.Length + pushes.Failures;
        extra["offered_per_s"] = over.Rate;
        extra["admitted_per_s"] = result.OpsPerSecond;
        extra["half_load_p50_ms"] = halfP50;
        extra["half_load_p99_ms"] = halfP99;
        extra["half_load_failed"] = half.Pushes.Failures;
        extra["half_load_admitted_per_s"] = half.Pushes.SuccessTicks.Length / half.Pushes.WallSeconds;
        extra["half_load_not_sent"] = half.Pushes.NotSent;
        extra["admitted_p99_vs_half_load"] = result.P99Ms / halfP99;

        // The same without the arrivals of the first second, while the registry's limits are still coming down.
        extra["settled_admitted_p50_ms"] = LoadLoop.PercentileMs(pushes.SettledSuccessTicks, 50);
        extra["settled_admitted_p99_ms"] = LoadLoop.PercentileMs(pushes.SettledSuccessTicks, 99);
        extra["settled_admitted_p99_vs_half_load"] = extra["settled_admitted_p99_ms"] / halfP99;
        extra["shed_per_s"] = shed.Count / pushes.WallSeconds;
        extra["shed_fraction"] = answered > 0 ? (double)shed.Count / answered : 0;
        extra["shed_p50_ms"] = LoadLoop.PercentileMs(shed.Ticks, 50);
        extra["shed_p99_ms"] = LoadLoop.PercentileMs(shed.Ticks, 99);
        extra["shed_at_post"] = shed.AtPost;
        extra["shed_at_put"] = shed.Count - shed.AtPost;
        extra["retry_after_fraction"] = shed.Count > 0 ? (double)shed.WithRetryAfter / shed.Count : double.NaN;
        extra["other_errors"] = pushes.Failures - shed.Count;
        extra["not_sent"] = pushes.NotSent;
        extra["unfinished"] = pushes.Unfinished;
        extra["max_dispatch_lag_ms"] = pushes.MaxLagMs;
        extra["mean_dispatch_lag_ms"] = pushes.MeanLagMs;
        extra["connections_opened"] = pushes.ConnectionsOpened;
        extra["drain_s"] = pushes.DrainSeconds;
        extra["rss_growth_mib"] = result.RssEndMiB - result.RssStartMiB;
        AddProbe(extra, "probe_half", half.Probe);
        AddProbe(extra, "probe_overload", over.Probe);
        extra["probe_p99_ratio"] = extra["probe_overload_p99_ms"] / extra["probe_half_p99_ms"];
        return result;
    }

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;

    private static void Fill(RunResult result, PhaseResult over, MonitorResult usage)
    {
        var pushes = over.Pushes;
        var admitted = pushes.SuccessTicks;
        var wall = pushes.WallSeconds;
        result.WallSeconds = Math.Round(wall, 3);
        result.Ops = admitted.Length;
        result.Errors = pushes.Failures;
        var kinds = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (kind, ticks) in pushes.FailureTicks)
        {
            kinds[kind] = ticks.Length;
        }

        result.ErrorKinds = kinds;
        result.OpsPerSecond = admitted.Length / wall;
        result.MiBPerSecond = admitted.Length * (double)BlobSize / 1048576.0 / wall;
        result.P50Ms = LoadLoop.PercentileMs(admitted, 50);
        result.P90Ms = LoadLoop.PercentileMs(admitted, 90);
        result.P99Ms = LoadLoop.PercentileMs(admitted, 99);
        result.P999Ms = LoadLoop.PercentileMs(admitted, 99.9);
        result.MaxMs = LoadLoop.PercentileMs(admitted, 100);
        Measurement.FillUsage(result, usage, result.Ops + result.Errors);
    }

    private static ShedSummary Shed(OpenLoopResult pushes)
    {
        var summary = new ShedSummary();
        var all = new List<long>();
        foreach (var (kind, ticks) in pushes.FailureTicks)
        {
            if (!kind.StartsWith(ShedPrefix, StringComparison.Ordinal))
            {
                continue;
            }

            all.AddRange(ticks);
            summary.Count += ticks.Length;
            if (kind.StartsWith(ShedPrefix + "post_", StringComparison.Ordinal))
            {
                summary.AtPost += ticks.Length;
            }

            if (!kind.EndsWith(NoRetryAfter, StringComparison.Ordinal))
            {
                summary.WithRetryAfter += ticks.Length;
            }
        }

        summary.Ticks = [.. all];
        Array.Sort(summary.Ticks);
        return summary;
    }

    private static void AddProbe(SortedDictionary<string, double> extra, string prefix, LoopResult probe)
    {
        Array.Sort(probe.SuccessTicks);
        extra[prefix + "_p50_ms"] = LoadLoop.PercentileMs(probe.SuccessTicks, 50);
        extra[prefix + "_p99_ms"] = LoadLoop.PercentileMs(probe.SuccessTicks, 99);
        extra[prefix + "_per_s"] = probe.SuccessTicks.Length / probe.WallSeconds;
        extra[prefix + "_shed"] = probe.ErrorKinds.GetValueOrDefault("status_429") + probe.ErrorKinds.GetValueOrDefault("status_503");
        extra[prefix + "_errors"] = probe.FailureTicks.Length;
    }

    // Closed loop: StreamClients pushers one push after another; used for the warm-up and the calibration.
    private static async Task<LoopResult> ClosedLoopAsync(
        ScenarioContext context,
        UniqueBlobs blobs,
        TimeSpan duration,
        CancellationToken cancellationToken)
    {
        var clients = context.Options.StreamClients;
        var pushers = new Pusher[clients];
        var digests = new string[clients];
        var sequences = new long[clients];
        for (var i = 0; i < clients; i++)
        {
            pushers[i] = new Pusher(context.Target, blobs);
            digests[i] = string.Empty;
        }

        void Prepare(int worker)
        {
            sequences[worker] = blobs.Next();
            digests[worker] = blobs.DigestOf(sequences[worker]);
            blobs.Fill(pushers[worker].Body, sequences[worker]);
        }

        async ValueTask<string?> PushAsync(int worker, CancellationToken token)
        {
            var outcome = await pushers[worker].PushAsync(digests[worker], token);
            if (!outcome.KeepConnection)
            {
                pushers[worker].Client.Connection.Close();
            }

            return outcome.Kind;
        }

        try
        {
            return await LoadLoop.RunAsync(clients, duration, context.Options.MaxPushes, PushAsync, Prepare, cancellationToken);
        }
        finally
        {
            foreach (var pusher in pushers)
            {
                pusher.Dispose();
            }
        }
    }

    // One open-loop phase of pushes with the manifest-GET probe running beside it for the same duration.
    private static async Task<PhaseResult> OpenPhaseAsync(
        ScenarioContext context,
        UniqueBlobs blobs,
        double rate,
        TimeSpan duration,
        CancellationToken cancellationToken)
    {
        var options = context.Options;
        var settings = new OpenLoopSettings(rate, duration, options.OverloadMaxInFlight, options.MaxOps, OpenLoop.DefaultDrain);
        using var probe = new ManifestStorm(context, ProbeClients, bufferSize: 16 * 1024);
        var probing = LoadLoop.RunAsync(ProbeClients, duration, options.MaxOps, probe.GetAsync, null, cancellationToken);

        static async ValueTask<OpenLoopOutcome> PushAsync(Pusher pusher, PreparedBlob blob, CancellationToken token)
        {
            pusher.Blobs.Fill(pusher.Body, blob.Sequence);
            return await pusher.PushAsync(blob.Digest, token);
        }

        var pushing = OpenLoop.RunAsync(
            settings,
            () => new Pusher(context.Target, blobs),
            _ =>
            {
                var sequence = blobs.Next();
                return new PreparedBlob(sequence, blobs.DigestOf(sequence));
            },
            PushAsync,
            cancellationToken);
        await Task.WhenAll(pushing, probing);
        return new PhaseResult(rate, await pushing, await probing);
    }

    private readonly record struct PreparedBlob(long Sequence, string Digest);

    private sealed record PhaseResult(double Rate, OpenLoopResult Pushes, LoopResult Probe);

    private sealed class ShedSummary
    {
        public long Count { get; set; }

        public long AtPost { get; set; }

        public long WithRetryAfter { get; set; }

        public long[] Ticks { get; set; } = [];
    }

    /// <summary>One connection with its own body buffer (the shared prefix, the tail rewritten per push).</summary>
    private sealed class Pusher : IDisposable
    {
        public Pusher(RegistryTarget target, UniqueBlobs blobs)
        {
            Client = new OciClient(target, bufferSize: 4 * 1024);
            Blobs = blobs;
            Body = blobs.NewBuffer();
        }

        public OciClient Client { get; }

        public UniqueBlobs Blobs { get; }

        public byte[] Body { get; }

        /// <summary>POST, then PUT ?digest= with the body; socket failures close the connection.</summary>
        public async ValueTask<OpenLoopOutcome> PushAsync(string digest, CancellationToken cancellationToken)
        {
            try
            {
                var error = await Client.PushMonolithicAsync(Repository, Body, digest, cancellationToken);
                return Classify(error, Client.LastRetryAfter);
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
            {
                Client.Connection.Close();
                return OpenLoopOutcome.Failed(ex.GetType().Name);
            }
        }

        public void Dispose() => Client.Dispose();
    }
}
