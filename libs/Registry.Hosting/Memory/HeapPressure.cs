using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Registry.Hosting.Memory;

/// <summary>How close the GC heap came to the memory the GC may use, at its last collection.</summary>
public enum HeapPressureLevel
{
    /// <summary>Room to spare: nothing is held back.</summary>
    Normal = 0,

    /// <summary>
    /// The heap holds <see cref="HeapPressure.HighShare"/> of the limit or more: the I/O pools keep no idle
    /// buffers, transfers use small buffers, and new blob transfers are refused (503).
    /// </summary>
    High = 1,

    /// <summary>The heap holds <see cref="HeapPressure.CriticalShare"/> of the limit or more: every new request is refused (503).</summary>
    Critical = 2,
}

/// <summary>
/// Watches the GC heap against the memory the GC may use (<c>DOTNET_GCHeapHardLimit</c>, 75 % of a
/// container's memory limit by default, or the machine's memory). At a heap hard limit the runtime does
/// not slow down: it collects over and over, then throws <see cref="OutOfMemoryException"/> wherever an
/// allocation fails, and a process that met it in a timer callback died or hung (docs/performance.md,
/// "GC configuration"). So the registry holds back before the limit: the level is read after every
/// collection (checked every 50 ms) from what the heap holds (its size less its free space), confirmed by
/// a full collection before it rises and while it stays raised, and drops back only once the heap is a
/// tenth of the limit below where it rose, so it does not flap.
/// </summary>
public static class HeapPressure
{
    /// <summary>The share of the limit at which the level becomes <see cref="HeapPressureLevel.High"/>: 0.6.</summary>
    public const double HighShare = 0.6;

    /// <summary>The share of the limit at which the level becomes <see cref="HeapPressureLevel.Critical"/>: 0.75.</summary>
    public const double CriticalShare = 0.75;

    // How far below a threshold the heap must fall before the level drops back.
    private const double Relief = 0.1;

    private static readonly Gauge LevelGauge = Metrics.CreateGauge(
        "registry_heap_pressure_level",
        "How close the GC heap came to the memory the GC may use at its last collection: 0 normal, 1 high (no idle buffers kept, new blob transfers refused), 2 critical (every new request refused).");

    private static readonly Counter Rises = Metrics.CreateCounter(
        "registry_heap_pressure_rises_total",
        "Times the heap pressure level rose (to high or to critical).");

    /// <summary>The least time between two full collections the check runs itself.</summary>
    public static readonly TimeSpan FullCollectionEvery = TimeSpan.FromSeconds(1);

    private static readonly Counter FullCollections = Metrics.CreateCounter(
        "registry_heap_pressure_collections_total",
        "Full collections run to check a raised heap pressure level (at most one a second, only above normal; their pauses count as induced).");

    private static int _level;
    private static long _lastFullCollection = long.MinValue / 2;
    private static long _limitBytes = long.MaxValue;
    private static int _lastCollections = -1;

    /// <summary>The level now.</summary>
    public static HeapPressureLevel Level => (HeapPressureLevel)Volatile.Read(ref _level);

    /// <summary>
    /// The memory the GC may use, in bytes, as the GC reported it at start (long.MaxValue before the
    /// first look). Stages that hold buffers per transfer size their bounds from it.
    /// </summary>
    public static long LimitBytes
    {
        get
        {
            var limit = Volatile.Read(ref _limitBytes);
            if (limit == long.MaxValue)
            {
                // Not known (no figure from the GC): nothing is sized down.
                var available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
                limit = available > 0 ? available : long.MaxValue;
                Volatile.Write(ref _limitBytes, limit);
            }

            return limit;
        }
    }

    /// <summary>Raised (on the watcher's thread) when the level rises; the I/O pools drop their idle buffers.</summary>
    internal static event Action<HeapPressureLevel>? Rose;

    /// <summary>Exports the level (at 0) before the first collection is looked at.</summary>
    public static void Publish()
    {
        LevelGauge.Publish();
        Rises.Publish();
        FullCollections.Publish();
    }

    /// <summary>
    /// Looks at the last collection, if there was one since the last look. A reading above normal that
    /// was not taken after a full collection counts the older generations' garbage too, so it is checked
    /// with a full, blocking collection first, at most once per <see cref="FullCollectionEvery"/>; while
    /// the level is raised that check runs even with no collection since (a process refusing everything
    /// may allocate too little to collect at all).
    /// </summary>
    public static void Check()
    {
        var collections = GC.CollectionCount(0);
        var raised = Level != HeapPressureLevel.Normal;
        var now = Environment.TickCount64;
        var fullDue = now - Volatile.Read(ref _lastFullCollection) >= (long)FullCollectionEvery.TotalMilliseconds;
        if (collections == Volatile.Read(ref _lastCollections) && !(raised && fullDue))
        {
            return;
        }

        var info = GC.GetGCMemoryInfo();
        if (info.Generation < GC.MaxGeneration && fullDue
            && (raised || Next(HeapPressureLevel.Normal, Share(info)) != HeapPressureLevel.Normal))
        {
            Volatile.Write(ref _lastFullCollection, now);
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            FullCollections.Inc();
            info = GC.GetGCMemoryInfo();
        }

        Volatile.Write(ref _lastCollections, GC.CollectionCount(0));
        Observe(LiveBytes(info), info.TotalAvailableMemoryBytes);
    }

    // What the heap holds after the collection: its size less the free space in it.
    private static long LiveBytes(GCMemoryInfo info) => info.HeapSizeBytes - info.FragmentedBytes;

    private static double Share(GCMemoryInfo info) =>
        info.TotalAvailableMemoryBytes > 0 ? (double)LiveBytes(info) / info.TotalAvailableMemoryBytes : 0;

    /// <summary>Takes one reading: the heap's size after a collection against the limit.</summary>
    internal static HeapPressureLevel Observe(long heapBytes, long limitBytes)
    {
        if (limitBytes <= 0)
        {
            return Level;
        }

        Volatile.Write(ref _limitBytes, limitBytes);
        var before = Level;
        var after = Next(before, (double)heapBytes / limitBytes);
        if (after != before)
        {
            Volatile.Write(ref _level, (int)after);
            LevelGauge.Set((int)after);
            if (after > before)
            {
                Rises.Inc();
                Rose?.Invoke(after);
            }
        }

        return after;
    }

    /// <summary>The level after a reading of <paramref name="share"/> of the limit, coming from <paramref name="current"/>.</summary>
    internal static HeapPressureLevel Next(HeapPressureLevel current, double share)
    {
        if (share >= CriticalShare)
        {
            return HeapPressureLevel.Critical;
        }

        if (share >= HighShare)
        {
            // Critical holds until the heap is well below its threshold.
            return current == HeapPressureLevel.Critical && share >= CriticalShare - Relief
                ? HeapPressureLevel.Critical
                : HeapPressureLevel.High;
        }

        if (current == HeapPressureLevel.Normal || share < HighShare - Relief)
        {
            return HeapPressureLevel.Normal;
        }

        return share >= CriticalShare - Relief ? HeapPressureLevel.Critical : HeapPressureLevel.High;
    }

    /// <summary>For tests: back to normal, with no limit known.</summary>
    internal static void Reset()
    {
        Volatile.Write(ref _level, 0);
        Volatile.Write(ref _limitBytes, long.MaxValue);
        Volatile.Write(ref _lastCollections, -1);
        Volatile.Write(ref _lastFullCollection, long.MinValue / 2);
        LevelGauge.Set(0);
    }
}

/// <summary>
/// Reads <see cref="HeapPressure"/> every 50 ms for the life of the process (the primary host runs it), on
/// a thread of its own: under overload the thread pool's queue is exactly where a check would wait.
/// It also ends a process that has spent nine tenths of its time in the GC for
/// <see cref="MemoryOptions.ThrashExitSeconds"/>: at a heap limit the live data can fill (32 MiB under
/// 2048 clients) the GC collects over and over and nothing else moves, not even SIGTERM; a supervisor
/// restarts a process that exits, while a wedged one answers no one until a probe with a timeout notices.
/// When the GC does not even let this thread run, the kernel alarm it keeps pushing on (Linux) fires
/// after as long and SIGALRM ends the process.
/// </summary>
public sealed partial class HeapPressureWatcher(IOptions<MemoryOptions> options, ILogger<HeapPressureWatcher> logger) : IHostedService, IDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    private readonly CancellationTokenSource _stopping = new();
    private Thread? _thread;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        HeapPressure.Publish();
        if (!options.Value.HeapPressureChecks)
        {
            return Task.CompletedTask;
        }

        _thread = new Thread(Watch) { IsBackground = true, Name = "Heap pressure" };
        _thread.Start();
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        _thread?.Join(TimeSpan.FromSeconds(1));
        WedgeAlarm.Clear();
    }

    public void Dispose()
    {
        // The thread waits on the token's handle: the source goes only once the thread has ended.
        _stopping.Cancel();
        WedgeAlarm.Clear();
        if (_thread is null || _thread.Join(TimeSpan.FromSeconds(1)))
        {
            _stopping.Dispose();
        }
    }

    private void Watch()
    {
        var logged = HeapPressureLevel.Normal;
        var stopping = _stopping.Token;
        var exitSeconds = options.Value.ThrashExitSeconds;
        var thrash = new ThrashClock(exitSeconds);
        while (!stopping.WaitHandle.WaitOne(Interval))
        {
            // The backstop: a GC that never lets managed threads run again (seen at a 32 MiB limit: one
            // thread collecting for minutes) keeps this loop from ever measuring it. Each turn pushes a
            // kernel alarm on; a loop stalled that long lets it fire, and SIGALRM ends the process.
            WedgeAlarm.Push(exitSeconds);

            if (thrash.Tick(Stopwatch.GetTimestamp(), GC.GetTotalPauseDuration()) is { } seconds)
            {
                Log.Thrashing(logger, seconds, HeapPressure.LimitBytes / (1024 * 1024));
                Environment.FailFast($"The GC took over nine tenths of the time for {seconds:F0} s at a heap limit of {HeapPressure.LimitBytes / (1024 * 1024)} MiB: exiting so that a supervisor restarts the registry.");
            }

            try
            {
                HeapPressure.Check();
            }
            catch (OutOfMemoryException)
            {
                // The look itself could not allocate: that is the answer.
                HeapPressure.Observe(long.MaxValue / 2, HeapPressure.LimitBytes);
            }

            var level = HeapPressure.Level;
            if (level == logged)
            {
                continue;
            }

            try
            {
                if (level > logged)
                {
                    Log.Rose(logger, level, HeapPressure.LimitBytes / (1024 * 1024));
                }
                else
                {
                    Log.Fell(logger, level);
                }

                logged = level;
            }
            catch (OutOfMemoryException)
            {
                // Logged at the next look.
            }
        }

        WedgeAlarm.Clear();
    }

    private static partial class WedgeAlarm
    {
        [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "alarm")]
        private static partial uint Alarm(uint seconds);

        /// <summary>Sets the process's alarm <paramref name="seconds"/> from now (Linux; 0 or less: none).</summary>
        public static void Push(int seconds)
        {
            if (seconds > 0 && OperatingSystem.IsLinux())
            {
                Alarm((uint)seconds);
            }
        }

        /// <summary>Takes the alarm off.</summary>
        public static void Clear()
        {
            if (OperatingSystem.IsLinux())
            {
                Alarm(0);
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 2, Level = LogLevel.Warning,
            Message = "Heap pressure rose to {Level} (the GC may use {LimitMiB} MiB): at High no idle buffers are kept and new blob transfers get 503, at Critical every new request does")]
        public static partial void Rose(ILogger logger, HeapPressureLevel level, long limitMiB);

        [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Heap pressure fell to {Level}")]
        public static partial void Fell(ILogger logger, HeapPressureLevel level);

        [LoggerMessage(EventId = 4, Level = LogLevel.Critical,
            Message = "The GC took over nine tenths of the time for {Seconds:F0} s (the GC may use {LimitMiB} MiB): the process is wedged at its heap limit and exits (Registry:Memory:ThrashExitSeconds)")]
        public static partial void Thrashing(ILogger logger, double seconds, long limitMiB);
    }
}

/// <summary>
/// Tells when the GC has taken nine tenths of the time or more, in one-second windows, for a given span
/// in a row (a late tick's window counts from where it began, so a thread held up by the GC still sees it).
/// </summary>
internal sealed class ThrashClock(double exitSeconds)
{
    /// <summary>The share of the time in GC pauses that counts as thrashing.</summary>
    public const double Share = 0.9;

    private long _windowStart = -1;
    private TimeSpan _pausedAtStart;
    private long _thrashingSince = -1;

    /// <summary>Takes the time and the GC's total pause; returns how long it has thrashed once that reaches the span, else null.</summary>
    public double? Tick(long timestamp, TimeSpan totalPause)
    {
        if (exitSeconds <= 0)
        {
            return null;
        }

        if (_windowStart < 0)
        {
            _windowStart = timestamp;
            _pausedAtStart = totalPause;
            return null;
        }

        var window = Stopwatch.GetElapsedTime(_windowStart, timestamp);
        if (window < TimeSpan.FromSeconds(1))
        {
            return null;
        }

        var thrashing = (totalPause - _pausedAtStart) >= window * Share;
        if (!thrashing)
        {
            _thrashingSince = -1;
        }
        else if (_thrashingSince < 0)
        {
            _thrashingSince = _windowStart;
        }

        _windowStart = timestamp;
        _pausedAtStart = totalPause;
        if (_thrashingSince < 0)
        {
            return null;
        }

        var seconds = Stopwatch.GetElapsedTime(_thrashingSince, timestamp).TotalSeconds;
        return seconds >= exitSeconds ? seconds : null;
    }
}
