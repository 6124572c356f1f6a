using Prometheus;

namespace Registry.Blob.Downloads;

/// <summary>The direct download server's series (process-wide, like every prometheus-net series here).</summary>
internal static class DownloadMetrics
{
    public static readonly Counter Started = Metrics.CreateCounter(
        "registry_direct_downloads_started_total", "Direct downloads whose body started (GET with at least one byte to send).");

    public static readonly Counter Completed = Metrics.CreateCounter(
        "registry_direct_downloads_completed_total", "Direct downloads whose every byte was handed to the kernel.");

    public static readonly Counter Aborted = Metrics.CreateCounter(
        "registry_direct_downloads_aborted_total",
        "Direct downloads cut short: the client went away, stopped reading for the idle timeout, or shutdown ran out of time.");

    public static readonly Counter BytesSent = Metrics.CreateCounter(
        "registry_direct_download_bytes_total", "Blob bytes sent by the direct download server (bodies only, counted per finished send).");

    public static readonly Gauge Connections = Metrics.CreateGauge(
        "registry_direct_download_connections", "Connections the direct download server holds open now.");

    public static readonly Counter Evictions = Metrics.CreateCounter(
        "registry_direct_download_evictions_total",
        "Connections closed at the connection limit to make room for a new one, because they had waited longest (at least EvictWaitingAfter) for a request head.");

    public static readonly Counter Rejections = Metrics.CreateCounter(
        "registry_direct_download_rejections_total",
        "Direct download requests refused: expired, bad_signature, connection_limit, client_limit, bad_request.",
        new CounterConfiguration { LabelNames = ["reason"] });

    /// <summary>Exports every series at once (zero until the first download), so dashboards and alerts see them from the start.</summary>
    public static void Publish()
    {
        Started.Publish();
        Completed.Publish();
        Aborted.Publish();
        BytesSent.Publish();
        Connections.Publish();
    }
}
