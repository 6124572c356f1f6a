using System.Diagnostics;
using Prometheus;

namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// Samples how long a work item queued to the thread pool waits before a thread runs it: near zero
/// while the CPU keeps up, and growing with the work waiting for a core once it does not (the same
/// wait every request's continuation meets). One sample per tick, so it costs nothing under load.
/// </summary>
internal sealed class SchedulingDelay : IThreadPoolWorkItem
{
    private static readonly Histogram Delays = Metrics.CreateHistogram(
        "registry_threadpool_scheduling_delay_seconds",
        "How long a sampled work item waited for a thread-pool thread (CPU pressure), in seconds.",
        new HistogramConfiguration { Buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });

    private long _lastTicks;
    private long _queuedAt;
    private int _pending;

    /// <summary>
    /// The wait of the last probe that ran, or, while one still waits, how long it has waited so far if
    /// that is longer.
    /// </summary>
    public TimeSpan Current
    {
        get
        {
            var last = Volatile.Read(ref _lastTicks);
            if (Volatile.Read(ref _pending) == 1)
            {
                last = Math.Max(last, Stopwatch.GetTimestamp() - Volatile.Read(ref _queuedAt));
            }

            return Stopwatch.GetElapsedTime(0, last);
        }
    }

    /// <summary>Queues one probe, unless the previous one is still waiting (its wait then counts as the sample).</summary>
    public void Sample()
    {
        if (Interlocked.Exchange(ref _pending, 1) == 1)
        {
            return;
        }

        // The probe is this object: queuing it allocates nothing, so it still runs with the heap at its limit.
        Volatile.Write(ref _queuedAt, Stopwatch.GetTimestamp());
        ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>The probe: how long it waited for a thread.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        var waited = Stopwatch.GetTimestamp() - Volatile.Read(ref _queuedAt);
        Volatile.Write(ref _lastTicks, waited);
        Volatile.Write(ref _pending, 0);
        Delays.Observe((double)waited / Stopwatch.Frequency);
    }
}
