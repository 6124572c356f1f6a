using System.Numerics;

namespace Registry.Hosting.Memory;

/// <summary>How the process holds on to memory, bound from "Registry:Memory".</summary>
public sealed class MemoryOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Registry:Memory";

    /// <summary>Whether the process gives memory back to the system once a burst of work is over. Default true.</summary>
    public bool IdleTrim { get; set; } = true;

    /// <summary>
    /// Whether the heap is watched against the memory the GC may use, holding work back as it nears it
    /// (<see cref="HeapPressure"/>). Default true; false leaves the level at normal.
    /// </summary>
    public bool HeapPressureChecks { get; set; } = true;

    /// <summary>
    /// Seconds in a row the GC may take nine tenths of the time or more before the process exits (fail
    /// fast, for its supervisor to restart it): a process wedged at its heap limit does nothing else.
    /// Needs <see cref="HeapPressureChecks"/>. 0 turns it off. Default 30.
    /// </summary>
    public int ThrashExitSeconds { get; set; } = 30;

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
    public long RetainedPoolBytes { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// Size of Kestrel's I/O buffers (a power of two, at least 4096). A socket read fills at most one
    /// buffer, so larger ones take an upload's bytes in fewer system calls. 0, the default, derives it from
    /// the memory the GC may use (<see cref="EffectiveIoBlockBytes"/>): 32 KiB from 256 MiB up, less below.
    /// </summary>
    public int IoBlockBytes { get; set; }

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

    /// <summary>
    /// The I/O buffer size for a GC that may use <paramref name="limitBytes"/>: <see cref="IoBlockBytes"/>
    /// when set, else an 8192th of the limit (every connection with a request in flight holds one or two
    /// buffers, so 1024 of them hold an eighth of it or less), from 4 KiB to 32 KiB.
    /// </summary>
    public int EffectiveIoBlockBytes(long limitBytes)
    {
        if (IoBlockBytes > 0)
        {
            return IoBlockBytes;
        }

        var share = Math.Max(limitBytes / 8192, BoundedBlockPool.MinimumBlockSize);
        return (int)Math.Min(1L << BitOperations.Log2((ulong)share), BoundedBlockPool.DefaultBlockSize);
    }

    /// <summary>
    /// A pool ceiling (<see cref="RetainedPoolBytes"/>, <see cref="RetainedLargePoolBytes"/>) for a GC that
    /// may use <paramref name="limitBytes"/>: at most a sixteenth of the limit, since a kept buffer counts
    /// against it as much as one in use.
    /// </summary>
    public static long EffectiveRetainedBytes(long configuredBytes, long limitBytes) =>
        configuredBytes < 0 ? configuredBytes : Math.Min(configuredBytes, limitBytes / 16);

    /// <summary>
    /// The read-ahead for a GC that may use <paramref name="limitBytes"/>: <see cref="ReadAheadBytes"/>, but
    /// at most a 2048th of the limit (every connection may hold that much of a body ahead of its handler:
    /// 1024 clients pushing 64 KiB bodies at once held a 64 MiB heap's worth) and at least one I/O buffer.
    /// </summary>
    public long EffectiveReadAheadBytes(long limitBytes) =>
        Math.Max(Math.Min(ReadAheadBytes, limitBytes / 2048), EffectiveIoBlockBytes(limitBytes));

    /// <summary>The largest <see cref="IoBlockBytes"/> accepted: 1 MiB.</summary>
    public const int MaxIoBlockBytes = 1024 * 1024;

    /// <summary>The largest <see cref="ReadAheadBytes"/> accepted: 64 MiB.</summary>
    public const long MaxReadAheadBytes = 64 * 1024 * 1024;

    /// <summary>Checks the options; a bad value stops the process at startup, naming the setting.</summary>
    public void Validate()
    {
        if (IoBlockBytes != 0 && (IoBlockBytes < BoundedBlockPool.MinimumBlockSize || IoBlockBytes > MaxIoBlockBytes || !int.IsPow2(IoBlockBytes)))
        {
            throw new InvalidOperationException(
                $"{SectionName}:IoBlockBytes must be 0 or a power of two from {BoundedBlockPool.MinimumBlockSize} to {MaxIoBlockBytes}; it is {IoBlockBytes}.");
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
        var block = RetainedPoolBytes >= 0 ? EffectiveIoBlockBytes(HeapPressure.LimitBytes) : BoundedBlockPool.MinimumBlockSize;
        if (ReadAheadBytes < block || ReadAheadBytes > MaxReadAheadBytes)
        {
            throw new InvalidOperationException(
                $"{SectionName}:ReadAheadBytes must be from one I/O block ({block}) to {MaxReadAheadBytes}; it is {ReadAheadBytes}.");
        }
    }
}
