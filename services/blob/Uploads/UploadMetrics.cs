using Prometheus;
using Registry.Blob.Metadata;
using Registry.Hosting.Observability;
using Registry.Hosting.Observability.Leaks;

namespace Registry.Blob.Uploads;

/// <summary>
/// Open upload sessions and how long the stalest has been idle, read from the blob database when
/// Prometheus scrapes (an indexed count, not per request).
/// </summary>
internal sealed class UploadMetrics : IHostedService, ILeakSignal
{
    private static readonly SampledGauge Open = new(Metrics.CreateGauge(
        "registry_upload_sessions_open", "Upload sessions started and neither finished, cancelled nor purged."));

    /// <summary>Upload starts refused at the open-session cap (created with the other upload metrics, so it is exported from the start).</summary>
    internal static readonly Counter SessionsRefused = Metrics.CreateCounter(
        "registry_upload_sessions_refused_total",
        "Upload starts refused with 429 because Registry:Blob:MaxOpenUploads sessions were open and none could be ended.");

    private static readonly SampledGauge OldestIdle = new(Metrics.CreateGauge(
        "registry_upload_sessions_oldest_idle_seconds", "How long the least recently touched open upload session has been idle."));

    private readonly BlobMetadataStore _metadata;
    private IDisposable? _open;
    private IDisposable? _oldest;

    public UploadMetrics(BlobMetadataStore metadata)
    {
        _metadata = metadata;
    }

    /// <summary>Open sessions now (the leak detector reads this).</summary>
    public long OpenSessions => _metadata.CountUploads();

    public string Name => "upload_sessions";

    /// <summary>Growth below this many sessions is never reported (clients abandon some; the purger ends them).</summary>
    public double MinimumIncrease => 500;

    public double Sample() => _metadata.CountUploads();

    public string Evidence() =>
        $"{_metadata.CountUploads()} upload sessions open; the stalest idle for {_metadata.OldestUploadIdle().TotalSeconds:0} s.";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _open = Open.Register(() => _metadata.CountUploads());
        _oldest = OldestIdle.Register(() => _metadata.OldestUploadIdle().TotalSeconds);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        _open?.Dispose();
        _oldest?.Dispose();
        return Task.CompletedTask;
    }
}
