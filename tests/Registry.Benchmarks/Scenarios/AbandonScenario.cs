using System.Diagnostics;
using Registry.Benchmarks.Http;
using Registry.Benchmarks.Monitoring;
using Registry.Benchmarks.Reporting;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// S5: a burst of clients that walk away: half GET the 32 MiB blob and close after 1 MiB, a quarter PATCH
/// declaring 1 MiB, send 256 KiB and close, a quarter PATCH 256 KiB and never finish. After a settle time the
/// server's threads, descriptors and memory are compared with a baseline taken before the burst, and every
/// upload URL is probed: 204 means the session is still alive.
/// </summary>
internal sealed class AbandonScenario : IScenario
{
    private const int ReadBeforeClose = 1024 * 1024;
    private const int SentBeforeClose = 256 * 1024;
    private const string Repository = "bench/abandon";
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(60);

    public string Name => "s5";

    public IReadOnlyList<ScenarioCase> Cases(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return [new ScenarioCase("abandon", options.S5Clients)];
    }

    public async Task<RunResult> RunAsync(ScenarioContext context, ScenarioCase scenarioCase, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var target = context.Target;
        var readers = scenarioCase.Clients / 2;
        var cutters = (scenarioCase.Clients - readers) / 2;
        var idlers = scenarioCase.Clients - readers - cutters;
        var chunk = new ReadOnlyMemory<byte>(context.Fixtures.Big, 0, SentBeforeClose);

        var baseline = ServerMonitor.SampleOnce(target.Pids);
        var uploadsBefore = UploadDirs.Count(target.UploadsGlob);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ClientTimeout);
        var errors = new ConcurrentCounter();
        var cutLocations = new string?[cutters];
        var idleLocations = new string?[idlers];
        var started = Stopwatch.GetTimestamp();
        await using var monitor = ServerMonitor.Start(target.Pids);

        var tasks = new List<Task>(scenarioCase.Clients);
        for (var i = 0; i < readers; i++)
        {
            tasks.Add(Task.Run(() => ReadAndCloseAsync(target, context.Fixtures.BigDigest, errors, timeout.Token), CancellationToken.None));
        }

        for (var i = 0; i < cutters; i++)
        {
            var slot = i;
            tasks.Add(Task.Run(
                async () => cutLocations[slot] = await CutPatchAsync(target, chunk, errors, timeout.Token), CancellationToken.None));
        }

        for (var i = 0; i < idlers; i++)
        {
            var slot = i;
            tasks.Add(Task.Run(
                async () => idleLocations[slot] = await IdlePatchAsync(target, chunk, errors, timeout.Token), CancellationToken.None));
        }

        await Task.WhenAll(tasks);
        var burstSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var usage = await monitor.StopAsync();

        await Task.Delay(context.Options.S5Settle, cancellationToken);
        var settled = ServerMonitor.SampleOnce(target.Pids);
        var probes = await ProbeAsync(target, cutLocations, idleLocations, cancellationToken);
        var uploadsAfter = UploadDirs.Count(target.UploadsGlob);

        var result = Measurement.NewResult(context, Name, scenarioCase.Variant, scenarioCase.Clients);
        Measurement.FillUsage(result, usage, scenarioCase.Clients);
        result.WallSeconds = Math.Round(burstSeconds, 3);
        result.Ops = scenarioCase.Clients - errors.Total;
        result.Errors = errors.Total;
        result.ErrorKinds = errors.Snapshot();

        // A burst has no per-operation latency; NaN keeps zeros out of the table.
        result.P50Ms = result.P90Ms = result.P99Ms = result.P999Ms = result.MaxMs = double.NaN;
        var extra = result.Extra;
        extra["burst_s"] = burstSeconds;
        extra["settle_s"] = context.Options.S5Settle.TotalSeconds;
        extra["rss_base_mib"] = baseline.RssMiB;
        extra["rss_after_mib"] = settled.RssMiB;
        extra["rss_after_vs_base_pct"] = Percent(settled.RssMiB, baseline.RssMiB);
        extra["threads_base"] = baseline.Threads;
        extra["threads_after"] = settled.Threads;
        extra["threads_after_vs_base_pct"] = Percent(settled.Threads, baseline.Threads);
        extra["fds_base"] = baseline.Fds;
        extra["fds_after"] = settled.Fds;
        extra["sessions_alive_idle"] = probes.IdleAlive;
        extra["sessions_alive_cut"] = probes.CutAlive;
        extra["sessions_unknown"] = probes.Unknown;
        foreach (var (status, count) in probes.Statuses)
        {
            extra[$"probe_status_{status}"] = count;
        }

        if (uploadsBefore >= 0)
        {
            extra["upload_dirs_before"] = uploadsBefore;
            extra["upload_dirs_after"] = uploadsAfter;
            extra["upload_dirs_delta"] = uploadsAfter - uploadsBefore;
        }

        return result;
    }

    private static double Percent(double after, double before) => before > 0 ? (after - before) / before * 100.0 : double.NaN;

    private static async Task ReadAndCloseAsync(RegistryTarget target, string digest, ConcurrentCounter errors, CancellationToken cancellationToken)
    {
        using var connection = new RawHttpConnection(target.EndPoint, 64 * 1024);
        try
        {
            await connection.WriteAsync(RawRequest.Build("GET", $"/v2/{Fixtures.BigRepository}/blobs/{digest}", target.Host), cancellationToken);
            var (read, status) = await connection.ReadAtMostAsync(ReadBeforeClose, cancellationToken);
            if (status is not (0 or 200))
            {
                // Shed (429) or refused: counted as such, not left to wait for the client timeout.
                errors.Add($"get_{status}");
            }
            else if (read < ReadBeforeClose)
            {
                errors.Add("get_short");
            }
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            errors.Add("get_" + ex.GetType().Name);
        }
    }

    // POST, then a PATCH that promises 1 MiB, sends a quarter of it and hangs up.
    private static async Task<string?> CutPatchAsync(
        RegistryTarget target,
        ReadOnlyMemory<byte> chunk,
        ConcurrentCounter errors,
        CancellationToken cancellationToken)
    {
        using var client = new OciClient(target);
        try
        {
            var (location, error) = await client.StartUploadAsync(Repository, cancellationToken);
            if (location is null)
            {
                errors.Add("cut_" + error);
                return null;
            }

            var head = RawRequest.Build(
                "PATCH", location, target.Host, ReadBeforeClose,
                ("Content-Type", "application/octet-stream"),
                ("Content-Range", $"0-{ReadBeforeClose - 1}"));
            await client.Connection.WriteAsync(head, cancellationToken);
            await client.Connection.WriteAsync(chunk, cancellationToken);
            return location;
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            errors.Add("cut_" + ex.GetType().Name);
            return null;
        }
    }

    // POST, then a complete 256 KiB PATCH, then silence: the session is left for the registry to purge.
    private static async Task<string?> IdlePatchAsync(
        RegistryTarget target,
        ReadOnlyMemory<byte> chunk,
        ConcurrentCounter errors,
        CancellationToken cancellationToken)
    {
        using var client = new OciClient(target);
        try
        {
            var (location, error) = await client.StartUploadAsync(Repository, cancellationToken);
            if (location is null)
            {
                errors.Add("idle_" + error);
                return null;
            }

            var (next, patchError) = await client.PatchAsync(location, chunk, 0, cancellationToken);
            if (next is null)
            {
                errors.Add("idle_" + patchError);
            }

            return next ?? location;
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            errors.Add("idle_" + ex.GetType().Name);
            return null;
        }
    }

    private static async Task<ProbeSummary> ProbeAsync(
        RegistryTarget target,
        string?[] cut,
        string?[] idle,
        CancellationToken cancellationToken)
    {
        var summary = new ProbeSummary();
        using var connection = new RawHttpConnection(target.EndPoint);
        foreach (var (locations, isIdle) in new[] { (cut, false), (idle, true) })
        {
            foreach (var location in locations)
            {
                if (location is null)
                {
                    summary.Unknown++;
                    continue;
                }

                var response = await connection.SendAsync(
                    RawRequest.Build("GET", location, target.Host), default, false, false, null, cancellationToken);
                var status = response.Status;
                summary.Statuses[status] = summary.Statuses.GetValueOrDefault(status) + 1;
                if (status == 204)
                {
                    if (isIdle)
                    {
                        summary.IdleAlive++;
                    }
                    else
                    {
                        summary.CutAlive++;
                    }
                }
            }
        }

        return summary;
    }

    private sealed class ProbeSummary
    {
        public int IdleAlive { get; set; }

        public int CutAlive { get; set; }

        public int Unknown { get; set; }

        public SortedDictionary<int, int> Statuses { get; } = [];
    }
}
