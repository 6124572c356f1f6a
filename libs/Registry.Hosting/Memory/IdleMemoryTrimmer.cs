using System.Diagnostics;
using System.Runtime;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Registry.Hosting.Memory;

/// <summary>
/// Gives memory back to the system after a burst. The GC collects when allocation demands it, so after
/// a burst of traffic an idle process keeps the garbage of the burst (large buffers in particular, which
/// only a full collection frees) and the memory the heap committed for it, for as long as it stays idle.
/// This watches the allocation rate; once the process has been idle for a few checks and its committed
/// heap has grown since the last trim, or a busy spell allocated as much without any collection since,
/// it runs one full, compacting collection that decommits what it frees
/// (<see cref="GCCollectionMode.Aggressive"/>). It runs only while the process is nearly idle, so
/// its pause (8-23 ms measured after benchmark bursts) meets few requests; an idle process is trimmed
/// once per burst, not repeatedly.
/// </summary>
public sealed partial class IdleMemoryTrimmer : BackgroundService
{
    private static readonly Counter Trims = Metrics.CreateCounter(
        "registry_gc_idle_trims_total", "Full collections run because the process went idle after its heap grew.");

    private static readonly Counter TrimmedBytes = Metrics.CreateCounter(
        "registry_gc_idle_trimmed_bytes_total", "Committed heap memory given back by idle trims, in bytes.");

    private readonly MemoryOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<IdleMemoryTrimmer> _logger;
    private readonly Func<long> _allocatedBytes;
    private readonly Func<long> _committedBytes;
    private readonly Func<int> _collectionCount;
    private readonly Action _collect;

    private long _lastAllocated;
    private long _lastCheck;
    private int _idleChecks;
    private long _committedAfterTrim;
    private int _lastCollectionCount;
    private long _allocatedAtCollection;

    // Whether a check found the process busy since the last collection: the uncollected bytes are then a
    // burst's garbage, not a trickle of light traffic that the next ordinary collection will take.
    private bool _busySinceCollection;

    public IdleMemoryTrimmer(IOptions<MemoryOptions> options, TimeProvider time, ILogger<IdleMemoryTrimmer> logger)
        : this(options, time, logger,
            static () => GC.GetTotalAllocatedBytes(precise: false),
            static () => GC.GetGCMemoryInfo().TotalCommittedBytes,
            static () => GC.CollectionCount(0),
            static () =>
            {
                // Pinned I/O buffers kept for reuse would hold their heap regions committed.
                BoundedBlockPool.ReleaseAllIdle();

                // Large buffers of the burst live in the large object heap: compact it too.
                GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            })
    {
    }

    /// <summary>For tests: the runtime's figures and the collection come from the caller.</summary>
    internal IdleMemoryTrimmer(
        IOptions<MemoryOptions> options,
        TimeProvider time,
        ILogger<IdleMemoryTrimmer> logger,
        Func<long> allocatedBytes,
        Func<long> committedBytes,
        Func<int> collectionCount,
        Action collect)
    {
        ArgumentNullException.ThrowIfNull(options);

        // Exported from the start (at zero), not only after the first trim.
        Trims.Publish();
        TrimmedBytes.Publish();
        _options = options.Value;
        _time = time;
        _logger = logger;
        _allocatedBytes = allocatedBytes;
        _committedBytes = committedBytes;
        _collectionCount = collectionCount;
        _collect = collect;
        _lastAllocated = allocatedBytes();
        _lastCheck = time.GetTimestamp();
        _committedAfterTrim = committedBytes();
        _lastCollectionCount = collectionCount();
        _allocatedAtCollection = _lastAllocated;
    }

    /// <summary>Looks once; returns true when it trimmed.</summary>
    internal bool CheckOnce()
    {
        var now = _time.GetTimestamp();
        var seconds = Math.Max(_time.GetElapsedTime(_lastCheck, now).TotalSeconds, 0.001);
        var allocated = _allocatedBytes();
        var rate = (allocated - _lastAllocated) / seconds;
        _lastAllocated = allocated;
        _lastCheck = now;
        var collections = _collectionCount();
        if (collections != _lastCollectionCount)
        {
            // The runtime collected since the last look: what was allocated before is accounted for.
            _lastCollectionCount = collections;
            _allocatedAtCollection = allocated;
            _busySinceCollection = false;
        }

        if (rate >= _options.IdleAllocationBytesPerSecond)
        {
            _idleChecks = 0;
            _busySinceCollection = true;
            return false;
        }

        _idleChecks++;
        var committed = _committedBytes();
        // The committed heap only moves at a collection. A burst that allocated less than a large gen0
        // budget leaves its garbage uncollected, resident and invisible to that figure: counted apart, but
        // only after a busy spell (light steady traffic reaches the same count slowly, and is not a burst).
        var burstGarbage = _busySinceCollection && allocated - _allocatedAtCollection >= _options.TrimMinimumGrowthBytes;
        if (_idleChecks < _options.IdleChecks
            || (committed - _committedAfterTrim < _options.TrimMinimumGrowthBytes && !burstGarbage))
        {
            if (committed < _committedAfterTrim)
            {
                // The GC gave memory back by itself: growth counts from there.
                _committedAfterTrim = committed;
            }

            return false;
        }

        var started = Stopwatch.GetTimestamp();
        _collect();
        var elapsed = Stopwatch.GetElapsedTime(started);
        var after = _committedBytes();
        _committedAfterTrim = after;
        _lastAllocated = _allocatedBytes();
        _lastCollectionCount = _collectionCount();
        _allocatedAtCollection = _lastAllocated;
        _busySinceCollection = false;
        _idleChecks = 0;
        Trims.Inc();
        TrimmedBytes.Inc(Math.Max(committed - after, 0));
        Log.Trimmed(_logger, committed / (1024 * 1024), after / (1024 * 1024), elapsed.TotalMilliseconds);
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.IdleTrim || _options.IdleCheckInterval <= TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(_options.IdleCheckInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    CheckOnce();
                }
                catch (OutOfMemoryException)
                {
                    // Near a heap hard limit a look can fail to allocate; failing here would stop the host.
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, Level = LogLevel.Information,
            Message = "Idle after a burst: full collection, heap committed {BeforeMiB} MiB -> {AfterMiB} MiB in {Milliseconds:F1} ms")]
        public static partial void Trimmed(ILogger logger, long beforeMiB, long afterMiB, double milliseconds);
    }
}
