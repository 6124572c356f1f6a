namespace Registry.EdgeHttp;

/// <summary>
/// Bounds of the request pipeline's stages (auth → manifest → blob → assemble). Zero means "derive from
/// the CPU count" (Environment.ProcessorCount, which honours container CPU limits).
/// </summary>
public sealed class PipelineOptions
{
    /// <summary>Requests one control stage (auth, manifest, assemble) works on at once. Default 32 per CPU.</summary>
    public int ControlParallelism { get; set; }

    /// <summary>Requests the blob stage works on at once; uploads stream their bodies here. Default 64 per CPU.</summary>
    public int BlobParallelism { get; set; }

    /// <summary>How many requests each stage may hold, running and waiting. Default 4 × its parallelism.</summary>
    public int CapacityFactor { get; set; } = 4;

    /// <summary>
    /// Seconds with requests queued and no step finished after which the pipeline counts as wedged and the
    /// health endpoints (live and ready) turn unhealthy. Default 30.
    /// </summary>
    public int StallSeconds { get; set; } = 30;

    /// <summary>
    /// Milliseconds a request that finds the first stage full may wait for a place before it is answered
    /// 429: a burst that arrives while the first decisions are still pending (a cold auth cache) is taken
    /// instead of shed, while a stage that cannot make room within this time still refuses. 0 refuses at
    /// once. Default 100.
    /// </summary>
    public int AdmissionWaitMilliseconds { get; set; } = 100;

    /// <summary>Seconds a client is told to wait (Retry-After) when the pipeline is full. Default 1.</summary>
    public int RetryAfterSeconds { get; set; } = 1;

    internal int EffectiveControlParallelism => ControlParallelism > 0 ? ControlParallelism : 32 * Environment.ProcessorCount;

    internal int EffectiveBlobParallelism => BlobParallelism > 0 ? BlobParallelism : 64 * Environment.ProcessorCount;

    /// <summary>Checks the options; a bad value stops the process at startup.</summary>
    public void Validate()
    {
        if (ControlParallelism < 0 || BlobParallelism < 0 || CapacityFactor < 1 || RetryAfterSeconds < 0 || StallSeconds < 1
            || AdmissionWaitMilliseconds < 0)
        {
            throw new InvalidOperationException("Registry:Edge:Pipeline values must be positive (or 0 for the default).");
        }
    }
}
