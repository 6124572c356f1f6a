namespace Registry.Hosting.Observability.Leaks;

/// <summary>Thread pool threads: a pool that keeps growing means work blocks threads and never ends.</summary>
internal sealed class ThreadPoolLeakSignal : ILeakSignal
{
    public string Name => "threadpool_threads";

    public double MinimumIncrease => 50;

    public double Sample() => ThreadPool.ThreadCount;

    public string Evidence() =>
        $"Thread pool: {ThreadPool.ThreadCount} threads, {ThreadPool.PendingWorkItemCount} queued work items.";
}

/// <summary>Managed heap after the last GC: memory held by something that is never released.</summary>
internal sealed class ManagedHeapLeakSignal : ILeakSignal
{
    public string Name => "managed_heap_bytes";

    public double MinimumIncrease => 256 * 1024 * 1024;

    public double Sample() => GC.GetGCMemoryInfo().HeapSizeBytes;

    public string Evidence()
    {
        var info = GC.GetGCMemoryInfo();
        return $"Heap {info.HeapSizeBytes} bytes after GC #{info.Index} (gen {info.Generation}), {info.FragmentedBytes} fragmented, "
            + $"{info.PromotedBytes} promoted; capture a heap dump (docs/observability.md) to see what holds it.";
    }
}
