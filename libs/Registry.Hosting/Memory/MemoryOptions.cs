namespace Registry.Hosting.Memory;

/// <summary>How the process holds on to memory, bound from "Registry:Memory".</summary>
public sealed class MemoryOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Registry:Memory";

    /// <summary>Whether the process gives memory back to the system once a burst of work is over. Default true.</summary>
    public bool IdleTrim { get; set; } = true;

    /// <summary>
    /// How often the allocation rate and the committed heap are looked at, and the I/O buffers above the
    /// pools' ceiling that went unused since the last look are given back. Default 2 seconds.
    /// </summary>
    public TimeSpan IdleCheckInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The process counts as idle while it allocates less than this many bytes per second (a Prometheus
    /// scrape or a health probe allocates far less than a single push or pull). Default 1 MiB.
    /// </summary>
    public long IdleAllocationBytesPerSecond { get; set; } = 1024 * 1024;

    /// <summary>Checks in a row that must find the process idle before it trims. Default 2.</summary>
    public int IdleChecks { get; set; } = 2;

    /// <summary>
    /// The heap's committed memory must have grown by at least this much since the last trim (or since
    /// start) for an idle spell to trim: an idle process is trimmed once, not over and over. Default 16 MiB.
    /// </summary>
    public long TrimMinimumGrowthBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Idle I/O buffers each host (the edge; the in-process services) keeps for reuse, across all its
    /// listeners and their I/O queues. On Linux returned buffers beyond this give their pages back to the
    /// system once they have gone unused for an <see cref="IdleCheckInterval"/> (at once when that is zero)
    /// and are handed out again first; elsewhere they go to the GC (<see cref="BoundedBlockPool"/>).
    /// One ceiling for the host, not one per pool: Kestrel makes a pool per I/O queue (one per CPU, up to
    /// 16), so a ceiling per pool would grow with the machine. Default 16 MiB: what 16 uploads at once hold
    /// in flight, so only bursts allocate. Negative: Kestrel's own pool, which keeps everything.
    /// </summary>
    // TODO: no stage sheds load on heap pressure: below 128 MiB of DOTNET_GCHeapHardLimit the process ran out of heap and died or wedged (docs/performance.md, "GC configuration").
    public long RetainedPoolBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Size of Kestrel's I/O buffers (a power of two, at least 4096). A socket read fills at most one
    /// buffer, so larger ones take an upload's bytes in fewer system calls. Default 32 KiB.
    /// </summary>
    public int IoBlockBytes { get; set; } = BoundedBlockPool.DefaultBlockSize;

    /// <summary>
    /// Size of the large buffers handed to a writer that asks for more than one I/O block at once (a blob
    /// GET reads 256 KiB of the file per call into the response): a power of two up to
    /// <see cref="MaxIoBlockBytes"/>, used only when above <see cref="IoBlockBytes"/>; 0 leaves such requests to the
    /// shared array pool, which keeps up to 32 buffers of each size per CPU for good. Default 256 KiB.
    /// </summary>
    public int LargeBlockBytes { get; set; } = 256 * 1024;

    /// <summary>
    /// Idle large buffers each host keeps for reuse, like <see cref="RetainedPoolBytes"/> for I/O buffers:
    /// beyond it returned ones give their pages back once unused for an <see cref="IdleCheckInterval"/>.
    /// Default 8 MiB: what 16 blob GETs at once hold in flight (two buffers each).
    /// </summary>
    public long RetainedLargePoolBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// How many bytes of one connection the socket transport reads ahead of the handler before it stops
    /// reading (Kestrel's <c>SocketTransportOptions.MaxReadBufferSize</c>; Kestrel's own
    /// <c>Limits:MaxRequestBufferSize</c> does not bound a plain socket). Every upload holds up to this
    /// much in I/O buffers while its handler catches up: 16 pushes of 1 MiB at once peak at 16 MiB with
    /// the default. Smaller saves that memory; bodies that would have fit whole then cost more CPU per push,
    /// large ones do not (docs/performance.md). Default 1 MiB.
    /// </summary>
    public long ReadAheadBytes { get; set; } = 1024 * 1024;

    /// <summary>The largest <see cref="IoBlockBytes"/> accepted: 1 MiB.</summary>
    public const int MaxIoBlockBytes = 1024 * 1024;

    /// <summary>The largest <see cref="ReadAheadBytes"/> accepted: 64 MiB.</summary>
    public const long MaxReadAheadBytes = 64 * 1024 * 1024;

    /// <summary>Checks the options; a bad value stops the process at startup, naming the setting.</summary>
    public void Validate()
    {
        if (IoBlockBytes < BoundedBlockPool.MinimumBlockSize || IoBlockBytes > MaxIoBlockBytes || !int.IsPow2(IoBlockBytes))
        {
            throw new InvalidOperationException(
                $"{SectionName}:IoBlockBytes must be a power of two from {BoundedBlockPool.MinimumBlockSize} to {MaxIoBlockBytes}; it is {IoBlockBytes}.");
        }

        if (LargeBlockBytes != 0 && (LargeBlockBytes < BoundedBlockPool.MinimumBlockSize || LargeBlockBytes > MaxIoBlockBytes || !int.IsPow2(LargeBlockBytes)))
        {
            throw new InvalidOperationException(
                $"{SectionName}:LargeBlockBytes must be 0 or a power of two from {BoundedBlockPool.MinimumBlockSize} to {MaxIoBlockBytes}; it is {LargeBlockBytes}.");
        }

        if (RetainedLargePoolBytes < 0)
        {
            throw new InvalidOperationException($"{SectionName}:RetainedLargePoolBytes must not be negative; it is {RetainedLargePoolBytes}.");
        }

        // Kestrel's own pool (RetainedPoolBytes -1) hands out 4 KiB blocks whatever IoBlockBytes says.
        var block = RetainedPoolBytes >= 0 ? IoBlockBytes : BoundedBlockPool.MinimumBlockSize;
        if (ReadAheadBytes < block || ReadAheadBytes > MaxReadAheadBytes)
        {
            throw new InvalidOperationException(
                $"{SectionName}:ReadAheadBytes must be from one I/O block ({block}) to {MaxReadAheadBytes}; it is {ReadAheadBytes}.");
        }
    }
}
