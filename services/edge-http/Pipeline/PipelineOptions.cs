namespace Registry.EdgeHttp;

/// <summary>
/// Bounds of the request pipeline's stages (auth → manifest → blob → assemble). Zero means "derive from
/// the CPU count" (Environment.ProcessorCount, which honours container CPU limits).
/// </summary>
public sealed class PipelineOptions
{
    /// <summary>Requests one control stage (auth, manifest, assemble) works on at once. Default 32 per CPU.</summary>
    public int ControlParallelism { get; set; }

    /// <summary>Requests the blob stage works on at once, and separately the upload stage (requests with a body: upload chunks stream there). Default 64 per CPU.</summary>
    public int BlobParallelism { get; set; }

    /// <summary>How many requests each stage may hold, running and waiting. Default 4 × its parallelism.</summary>
    public int CapacityFactor { get; set; } = 4;

    /// <summary>
    /// Seconds with requests queued and no step finished after which the pipeline counts as wedged and the
    /// health endpoints (live and ready) turn unhealthy. Default 30.
    /// </summary>
    public int StallSeconds { get; set; } = 30;

    /// <summary>
    /// Milliseconds a request that finds a stage it needs full may wait for a place before it is answered
    /// 429: a burst that arrives while the first decisions are still pending (a cold auth cache) is taken
    /// instead of shed, while a stage that cannot make room within this time still refuses. 0 refuses at
    /// once. Default 100.
    /// </summary>
    public int AdmissionWaitMilliseconds { get; set; } = 100;

    /// <summary>
    /// The CPU counts as under pressure while a work item queued to the thread pool waits longer than this
    /// many milliseconds (sampled every 25 ms). Under pressure the blob and upload stages admit fewer
    /// operations than their capacity, cut while the pressure lasts and restored when it ends, and a
    /// request refused for it is answered 429 at once, without the admission wait; new uploads are held
    /// back first, requests that continue one last. 0 turns this off. Default 10.
    /// </summary>
    public int PressureDelayMilliseconds { get; set; } = 10;

    /// <summary>
    /// The blob stage counts as congested while even its quickest step of a request without a body (an
    /// upload start, a blob HEAD, an upload's closing PUT) takes longer than this many milliseconds within
    /// a 100 ms window: those steps are all server work, so the wait is the stage's own queue. Congestion
    /// holds the blob stage back like CPU pressure does. 0 turns this off. Default 10.
    /// </summary>
    public int CongestedStepMilliseconds { get; set; } = 10;

    /// <summary>
    /// While the upload stage turns requests away, an upload body that brought fewer than this many bytes
    /// per second over its last <see cref="SlowBodySeconds"/> is cut off with 408 and its place goes to
    /// a request that can use it: a few hundred clients trickling bodies in cannot hold every upload place.
    /// With nobody waiting, slow bodies keep their places. 0 turns this off. Default 32 KiB/s.
    /// </summary>
    public long SlowBodyBytesPerSecond { get; set; } = 32 * 1024;

    /// <summary>The window <see cref="SlowBodyBytesPerSecond"/> is measured over, in seconds. Default 5.</summary>
    public int SlowBodySeconds { get; set; } = 5;

    /// <summary>Seconds a client is told to wait (Retry-After) when the pipeline is full. Default 1.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    internal int EffectiveControlParallelism => ControlParallelism > 0 ? ControlParallelism : 32 * Environment.ProcessorCount;

    internal int EffectiveBlobParallelism => BlobParallelism > 0 ? BlobParallelism : 64 * Environment.ProcessorCount;

    /// <summary>Checks the options; a bad value stops the process at startup.</summary>
    public void Validate()
    {
        if (ControlParallelism < 0 || BlobParallelism < 0 || CapacityFactor < 1 || RetryAfterSeconds < 0 || StallSeconds < 1
            || AdmissionWaitMilliseconds < 0 || PressureDelayMilliseconds < 0 || CongestedStepMilliseconds < 0
            || SlowBodyBytesPerSecond < 0 || SlowBodySeconds < 1)
        {
            throw new InvalidOperationException("Registry:Edge:Pipeline values must be positive (or 0 for the default).");
        }
    }
}
