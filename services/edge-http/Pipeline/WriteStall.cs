namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// The request's token, cancelled as well when a write armed with <see cref="Arm"/> has not completed within
/// Registry:Edge:ResponseStallTimeout: a client that stops reading cannot hold its connection and buffers for
/// hours (Kestrel's minimum data rate is averaged over the whole response). Only writes are timed: a wait for
/// the blob service's next chunk is not the client's stall.
/// </summary>
internal sealed class WriteStall(TimeSpan timeout, CancellationToken request) : IDisposable
{
    private static readonly Prometheus.Counter Stalled = Prometheus.Metrics.CreateCounter(
        "registry_responses_stalled_total",
        "Responses cut because the client read nothing for Registry:Edge:ResponseStallTimeout, by body: blob, manifest.",
        new Prometheus.CounterConfiguration { LabelNames = ["body"] });

    /// <summary>Counts a blob download cut for a stalled reader.</summary>
    public static readonly Prometheus.Counter.Child StalledBlobs = Stalled.WithLabels("blob");

    /// <summary>Counts a manifest (or other large body) cut for a stalled reader.</summary>
    public static readonly Prometheus.Counter.Child StalledManifests = Stalled.WithLabels("manifest");

    private readonly CancellationTokenSource _source = CancellationTokenSource.CreateLinkedTokenSource(request);

    public CancellationToken Token => _source.Token;

    /// <summary>True once a timed write ran out of time (and the request itself was not cancelled).</summary>
    public bool Fired => _source.IsCancellationRequested && !request.IsCancellationRequested;

    public void Arm() => _source.CancelAfter(timeout);

    public void Disarm() => _source.CancelAfter(Timeout.InfiniteTimeSpan);

    public void Dispose() => _source.Dispose();
}
