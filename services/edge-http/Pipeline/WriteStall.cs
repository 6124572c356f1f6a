namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// The request's token, cancelled as well when a response's client stops reading. A write armed with
/// <see cref="Arm"/> that has not completed within Registry:Edge:ResponseStallTimeout ends the response unless
/// the client acknowledged bytes meanwhile (TCP_INFO on Linux, through <c>acknowledged</c>): a flush waits
/// for the socket's send buffer, which the kernel may have grown to megabytes, so a client reading slowly but
/// steadily can leave a flush pending for longer than the timeout; only a client that read nothing for it is
/// cut. Only writes are timed: a wait for the blob service's next chunk is not the client's stall. While blob
/// GETs wait for a body slot, a body whose client acknowledged less than <see cref="ContendedProgressBytes"/>
/// in Registry:Edge:SlowReaderCutAfter may be cut sooner (<see cref="TryCut"/>).
/// </summary>
internal sealed class WriteStall : IDisposable
{
    /// <summary>What a client must have read in SlowReaderCutAfter to keep its slot while other GETs wait.</summary>
    public const long ContendedProgressBytes = 256 * 1024;

    private static readonly Prometheus.Counter Stalled = Prometheus.Metrics.CreateCounter(
        "registry_responses_stalled_total",
        "Responses cut because the client read too slowly, by body (blob, manifest) and reason: timeout (nothing read for Registry:Edge:ResponseStallTimeout), contended (less than 256 KiB read in Registry:Edge:SlowReaderCutAfter while other GETs waited for a body slot).",
        new Prometheus.CounterConfiguration { LabelNames = ["body", "reason"] });

    private readonly TimeSpan _timeout;
    private readonly CancellationToken _request;
    private readonly Func<long>? _acknowledged;
    private readonly CancellationTokenSource _source;
    private readonly Timer _timer;
    private readonly Lock _gate = new();

    // Whether a write is pending, and the last progress seen (bytes acknowledged, when) for the timeout and for
    // the contended cut. Guarded by _gate.
    private bool _pending;
    private (long Bytes, long At) _timeoutMark;
    private (long Bytes, long At) _rateMark;
    private int _cut;

    /// <param name="timeout">How long a write may wait without the client reading anything.</param>
    /// <param name="request">The request's own token.</param>
    /// <param name="acknowledged">Bytes the client has acknowledged so far (negative when unknown); null: judge by the write alone.</param>
    public WriteStall(TimeSpan timeout, CancellationToken request, Func<long>? acknowledged = null)
    {
        _timeout = timeout;
        _request = request;
        _acknowledged = acknowledged;
        _source = CancellationTokenSource.CreateLinkedTokenSource(request);
        _timer = new Timer(static state => ((WriteStall)state!).OnTimeout(), this, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Counts a blob download cut for a stalled reader.</summary>
    public static Prometheus.Counter.Child StalledBlobs { get; } = Stalled.WithLabels("blob", "timeout");

    /// <summary>Counts a manifest (or other large body) cut for a stalled reader.</summary>
    public static Prometheus.Counter.Child StalledManifests { get; } = Stalled.WithLabels("manifest", "timeout");

    /// <summary>Counts a blob download cut to give its slot to a waiting GET.</summary>
    public static Prometheus.Counter.Child CutBlobs { get; } = Stalled.WithLabels("blob", "contended");

    public CancellationToken Token => _source.Token;

    /// <summary>True once the client was found stalled or the body was cut (and the request itself was not cancelled).</summary>
    public bool Fired => _source.IsCancellationRequested && !_request.IsCancellationRequested;

    /// <summary>True when the body was cut for a waiting GET rather than timed out.</summary>
    public bool CutForRoom => Volatile.Read(ref _cut) != 0;

    /// <summary>
    /// Since when (Environment.TickCount64) the pending write has seen less than <see cref="ContendedProgressBytes"/>
    /// acknowledged; long.MaxValue between writes.
    /// </summary>
    public long WaitingSince
    {
        get
        {
            lock (_gate)
            {
                return _pending ? _rateMark.At : long.MaxValue;
            }
        }
    }

    // What the client has acknowledged is read only once a write has waited BaselineDelay: most writes complete
    // sooner, and a blob GET arms one per 256 KiB.
    public void Arm()
    {
        var now = Environment.TickCount64;
        lock (_gate)
        {
            _pending = true;
            _timeoutMark = _rateMark = (NotRead, now);
        }

        _timer.Change(BaselineDelay, Timeout.InfiniteTimeSpan);
    }

    public void Disarm()
    {
        lock (_gate)
        {
            _pending = false;
        }

        _timer.Change(Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>
    /// Cuts the pending write if it has seen too little progress since <paramref name="waitingSince"/> or before:
    /// looking at what the client acknowledged once more, less than <see cref="ContendedProgressBytes"/> per
    /// <paramref name="period"/>. False when it moved on, reads fast enough, or another cut it.
    /// </summary>
    public bool TryCut(long waitingSince, TimeSpan period)
    {
        var acknowledged = Acknowledged();
        var now = Environment.TickCount64;
        lock (_gate)
        {
            if (!_pending || _rateMark.At > waitingSince)
            {
                return false;
            }

            var owed = ContendedProgressBytes * Math.Max(now - _rateMark.At, 1) / Math.Max((long)period.TotalMilliseconds, 1);
            if (acknowledged >= 0 && _rateMark.Bytes >= 0 && acknowledged - _rateMark.Bytes >= owed)
            {
                _rateMark = (acknowledged, now);
                return false;
            }
        }

        if (Interlocked.Exchange(ref _cut, 1) != 0)
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

    // First, BaselineDelay into a write: what the client has acknowledged so far. Then, the timeout after the last
    // progress seen: if the client acknowledged anything since, it is reading, and the timeout starts again.
    private void OnTimeout()
    {
        var acknowledged = Acknowledged();
        lock (_gate)
        {
            if (!_pending)
            {
                return;
            }

            var first = _timeoutMark.Bytes == NotRead;
            if (first)
            {
                _rateMark = (acknowledged, Environment.TickCount64);
            }

            if (first || (acknowledged > _timeoutMark.Bytes && _timeoutMark.Bytes >= 0))
            {
                _timeoutMark = (acknowledged, Environment.TickCount64);
                try
                {
                    _timer.Change(_timeout, Timeout.InfiniteTimeSpan);
                }
                catch (ObjectDisposedException)
                {
                    // The response ended meanwhile.
                }

                return;
            }
        }

        try
        {
            _source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The response ended meanwhile.
        }
    }

    private long Acknowledged() => _acknowledged?.Invoke() ?? -1;

    // A mark taken before the first look at what the client acknowledged.
    private const long NotRead = -2;

    /// <summary>How long a write waits before what its client acknowledged is first read.</summary>
    internal static readonly TimeSpan BaselineDelay = TimeSpan.FromMilliseconds(100);

    public void Dispose()
    {
        _timer.Dispose();
        _source.Dispose();
    }
}
