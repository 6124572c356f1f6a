namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// The request's token, cancelled as well when a write armed with <see cref="Arm"/> has not completed within
/// Registry:Edge:ResponseStallTimeout: a client that stops reading cannot hold its connection and buffers for
/// hours (Kestrel's minimum data rate is averaged over the whole response). Only writes are timed: a wait for
/// the blob service's next chunk is not the client's stall. While blob GETs wait for a body slot, the body
/// whose write has waited on its client longest may be cut sooner (<see cref="TryCut"/>).
/// </summary>
internal sealed class WriteStall(TimeSpan timeout, CancellationToken request) : IDisposable
{
    private static readonly Prometheus.Counter Stalled = Prometheus.Metrics.CreateCounter(
        "registry_responses_stalled_total",
        "Responses cut because the client read too slowly, by body (blob, manifest) and reason: timeout (nothing read for Registry:Edge:ResponseStallTimeout), contended (a blob body's write waited Registry:Edge:SlowReaderCutAfter while other GETs waited for a body slot).",
        new Prometheus.CounterConfiguration { LabelNames = ["body", "reason"] });

    private readonly CancellationTokenSource _source = CancellationTokenSource.CreateLinkedTokenSource(request);
    private long _waitingSince = long.MaxValue;
    private int _cut;

    /// <summary>Counts a blob download cut for a stalled reader.</summary>
    public static Prometheus.Counter.Child StalledBlobs { get; } = Stalled.WithLabels("blob", "timeout");

    /// <summary>Counts a manifest (or other large body) cut for a stalled reader.</summary>
    public static Prometheus.Counter.Child StalledManifests { get; } = Stalled.WithLabels("manifest", "timeout");

    /// <summary>Counts a blob download cut to give its slot to a waiting GET.</summary>
    public static Prometheus.Counter.Child CutBlobs { get; } = Stalled.WithLabels("blob", "contended");

    public CancellationToken Token => _source.Token;

    /// <summary>True once a timed write ran out of time or was cut (and the request itself was not cancelled).</summary>
    public bool Fired => _source.IsCancellationRequested && !request.IsCancellationRequested;

    /// <summary>True when the write was cut for a waiting GET rather than timed out.</summary>
    public bool CutForRoom => Volatile.Read(ref _cut) != 0;

    /// <summary>Since when (Environment.TickCount64) the write in progress has waited on the client; long.MaxValue between writes.</summary>
    public long WaitingSince => Volatile.Read(ref _waitingSince);

    public void Arm()
    {
        Volatile.Write(ref _waitingSince, Environment.TickCount64);
        _source.CancelAfter(timeout);
    }

    public void Disarm()
    {
        _source.CancelAfter(Timeout.InfiniteTimeSpan);
        Volatile.Write(ref _waitingSince, long.MaxValue);
    }

    /// <summary>Cuts the write in progress if it has waited since <paramref name="waitingSince"/> or before; false when it has moved on, or another cut it.</summary>
    public bool TryCut(long waitingSince)
    {
        if (WaitingSince > waitingSince || Interlocked.Exchange(ref _cut, 1) != 0)
        {
            return false;
        }

        try
        {
            // The cut write's continuation runs on the pool, not on the waiting GET's thread.
            _ = _source.CancelAsync();
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    public void Dispose() => _source.Dispose();
}
