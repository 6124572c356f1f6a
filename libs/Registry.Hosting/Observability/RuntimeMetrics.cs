using Prometheus;

namespace Registry.Hosting.Observability;

/// <summary>
/// The runtime as metrics: GC collections per generation, pauses, heap size and fragmentation,
/// allocation, thread pool, lock contention, exceptions and working set. Everything but the pause
/// histogram and the exception count is read when Prometheus scrapes, so it costs nothing between
/// scrapes.
/// </summary>
internal static class RuntimeMetrics
{
    private static readonly Counter Collections = Metrics.CreateCounter(
        "registry_gc_collections_total", "Garbage collections, by generation.", "generation");

    private static readonly Counter PauseTime = Metrics.CreateCounter(
        "registry_gc_pause_time_seconds_total", "Total time the runtime was paused for GC, in seconds.");

    private static readonly Gauge HeapSize = Metrics.CreateGauge(
        "registry_gc_heap_size_bytes", "Managed heap size after the last GC, in bytes.");

    private static readonly Gauge HeapFragmented = Metrics.CreateGauge(
        "registry_gc_heap_fragmented_bytes", "Free space inside the managed heap after the last GC, in bytes.");

    private static readonly Gauge HeapCommitted = Metrics.CreateGauge(
        "registry_gc_heap_committed_bytes", "Memory the GC has committed, in bytes.");

    private static readonly Gauge HeapLimit = Metrics.CreateGauge(
        "registry_gc_heap_limit_bytes", "Memory the GC may use (heap hard limit or the container's or machine's memory), in bytes.");

    private static readonly Gauge TotalMemory = Metrics.CreateGauge(
        "registry_gc_total_memory_bytes", "Bytes currently thought to be allocated on the managed heap.");

    private static readonly Counter Allocated = Metrics.CreateCounter(
        "registry_gc_allocated_bytes_total", "Bytes allocated on the managed heap since start; its rate is the allocation rate.");

    private static readonly Gauge ThreadPoolThreads = Metrics.CreateGauge(
        "registry_threadpool_threads", "Thread pool threads.");

    private static readonly Gauge ThreadPoolQueue = Metrics.CreateGauge(
        "registry_threadpool_queue_length", "Work items waiting in the thread pool's queues.");

    private static readonly Counter ThreadPoolCompleted = Metrics.CreateCounter(
        "registry_threadpool_completed_items_total", "Work items the thread pool has run.");

    private static readonly Counter LockContentions = Metrics.CreateCounter(
        "registry_lock_contentions_total", "Times a thread waited for a contended Monitor lock.");

    private static readonly Counter Exceptions = Metrics.CreateCounter(
        "registry_exceptions_total", "Exceptions thrown (first chance, caught or not).");

    private static readonly Gauge WorkingSet = Metrics.CreateGauge(
        "registry_process_working_set_bytes", "Physical memory mapped to the process, in bytes.");

    private static readonly Gauge ProcessorCount = Metrics.CreateGauge(
        "registry_process_cpu_count", "Processors the runtime uses (container-aware).");

    private static readonly Counter.Child[] Generations =
        [Collections.WithLabels("0"), Collections.WithLabels("1"), Collections.WithLabels("2")];

    private static long _exceptions;

    // Reads the resident memory without opening a file.
    private static ProcessStats? _process;

    // Held for the life of the process: the listener stops when it is collected.
    private static GcPauseListener? _pauses;

    /// <summary>Starts the pause listener and the exception count, and samples the rest on each scrape.</summary>
    public static void Start(CollectorRegistry registry, ProcessStats process)
    {
        _process = process;
        _pauses = new GcPauseListener();
        AppDomain.CurrentDomain.FirstChanceException += static (_, _) => Interlocked.Increment(ref _exceptions);
        registry.AddBeforeCollectCallback(Sample);
    }

    private static void Sample()
    {
        for (var generation = 0; generation < Generations.Length; generation++)
        {
            Generations[generation].IncTo(GC.CollectionCount(generation));
        }

        PauseTime.IncTo(GC.GetTotalPauseDuration().TotalSeconds);
        var info = GC.GetGCMemoryInfo();
        HeapSize.Set(info.HeapSizeBytes);
        HeapFragmented.Set(info.FragmentedBytes);
        HeapCommitted.Set(info.TotalCommittedBytes);
        HeapLimit.Set(info.TotalAvailableMemoryBytes);
        TotalMemory.Set(GC.GetTotalMemory(forceFullCollection: false));
        Allocated.IncTo(GC.GetTotalAllocatedBytes(precise: false));
        ThreadPoolThreads.Set(ThreadPool.ThreadCount);
        ThreadPoolQueue.Set(ThreadPool.PendingWorkItemCount);
        ThreadPoolCompleted.IncTo(ThreadPool.CompletedWorkItemCount);
        LockContentions.IncTo(Monitor.LockContentionCount);
        Exceptions.IncTo(Interlocked.Read(ref _exceptions));
        WorkingSet.Set(_process?.ReadResidentBytes() ?? 0);
        ProcessorCount.Set(Environment.ProcessorCount);
    }
}
