using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Prometheus;

namespace Registry.Hosting.Memory;

/// <summary>
/// Kestrel's buffer pool with a ceiling on what it keeps. Kestrel's own pool keeps every 4 KiB block it
/// ever handed out and gives back at most 5 % of them every 10 seconds, so one burst of slow clients
/// (500 downloads holding a 256 KiB response buffer each) stays resident for many minutes. This pool
/// keeps at most <see cref="MemoryOptions.RetainedPoolBytes"/> of returned blocks, counted across every
/// pool of one <see cref="BoundedBlockPoolFactory"/> (Kestrel's socket transport asks for one pool per
/// I/O queue, one queue per CPU up to 16, so a ceiling per pool grew with the machine), and lets
/// the rest go to the GC, which the idle trim (<see cref="IdleMemoryTrimmer"/>) then gives back to the
/// system. Blocks are pinned arrays, as Kestrel's are, so socket I/O never pins per call.
/// </summary>
public sealed class BoundedBlockPool : MemoryPool<byte>
{
    /// <summary>The smallest block: one page, the size of every block in Kestrel's own pool.</summary>
    public const int MinimumBlockSize = 4096;

    /// <summary>
    /// The default block: 32 KiB. Kestrel reads a socket into at most one block, so 4 KiB blocks took an
    /// upload's mebibyte in some 500 reads; 32 KiB blocks take it in about 60 (a pushed MiB costs 0.65-0.8x
    /// the CPU, measured side by side in docs/performance.md).
    /// </summary>
    public const int DefaultBlockSize = 32 * 1024;

    private static readonly Counter Allocated = Metrics.CreateCounter(
        "registry_buffer_pool_allocated_bytes_total", "Bytes of I/O buffers allocated because the pool had none to hand out.");

    private static readonly Counter Released = Metrics.CreateCounter(
        "registry_buffer_pool_released_bytes_total", "Bytes of returned I/O buffers the pool let go to the GC because it held its ceiling already.");

    private static readonly Gauge Retained = Metrics.CreateGauge(
        "registry_buffer_pool_retained_bytes", "Bytes of idle I/O buffers the pools keep for reuse.");

    private static readonly Gauge Leased = Metrics.CreateGauge(
        "registry_buffer_pool_leased_bytes", "Bytes of I/O buffers handed out and not yet returned: what sockets, request bodies and responses hold now.");

    // Every pool not yet disposed, so an idle process can empty them all before it collects.
    private static readonly ConcurrentDictionary<BoundedBlockPool, byte> Live = new();

    private readonly ConcurrentQueue<Block> _idle = new();
    private readonly int _blockSize;
    private readonly IdleBudget _budget;
    private int _idleBlocks;
    private bool _disposed;

    /// <summary>A pool that keeps at most <paramref name="retainedBytes"/> of idle blocks on its own.</summary>
    public BoundedBlockPool(long retainedBytes, int blockSize = DefaultBlockSize)
        : this(new IdleBudget(retainedBytes, CheckBlockSize(blockSize)), blockSize)
    {
    }

    private BoundedBlockPool(IdleBudget budget, int blockSize)
    {
        _blockSize = CheckBlockSize(blockSize);
        _budget = budget;
        Live.TryAdd(this, 0);
    }

    /// <summary>A pool that shares <paramref name="budget"/>'s ceiling with the other pools made with it.</summary>
    internal static BoundedBlockPool Sharing(IdleBudget budget, int blockSize) => new(budget, blockSize);

    private static int CheckBlockSize(int blockSize) =>
        blockSize >= MinimumBlockSize && int.IsPow2(blockSize)
            ? blockSize
            : throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "a power of two of at least 4096 bytes");

    /// <summary>
    /// Lets every pool's idle blocks go (the idle trim calls it before collecting). Blocks are pinned, so a
    /// kept block holds its whole heap region committed however little else lives there; an idle process
    /// is better off allocating a few blocks anew when work comes back.
    /// </summary>
    public static void ReleaseAllIdle()
    {
        foreach (var pool in Live.Keys)
        {
            pool.ReleaseIdle();
        }
    }

    /// <summary>Lets this pool's idle blocks go to the GC.</summary>
    public void ReleaseIdle()
    {
        while (_idle.TryDequeue(out _))
        {
            Interlocked.Decrement(ref _idleBlocks);
            _budget.Release();
            Retained.Dec(BlockSize);
            Released.Inc(BlockSize);
        }
    }

    /// <inheritdoc />
    public override int MaxBufferSize => _blockSize;

    /// <summary>The size of every block this pool hands out.</summary>
    public int BlockSize => _blockSize;

    /// <summary>Idle blocks kept for reuse (for tests).</summary>
    public int IdleBlocks => Volatile.Read(ref _idleBlocks);

    /// <inheritdoc />
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _idleBlocks);
            _budget.Release();
            Retained.Dec(BlockSize);
            Leased.Inc(BlockSize);
            block.Leased = true;
            return block;
        }

        Allocated.Inc(BlockSize);
        Leased.Inc(BlockSize);
        return new Block(this);
    }

    private void Return(Block block)
    {
        if (!block.Leased)
        {
            // Disposed twice: the first return counted.
            return;
        }

        block.Leased = false;
        Leased.Dec(BlockSize);
        if (!_disposed && _budget.TryTake())
        {
            Interlocked.Increment(ref _idleBlocks);
            Retained.Inc(BlockSize);
            _idle.Enqueue(block);
            return;
        }

        Released.Inc(BlockSize);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        Live.TryRemove(this, out _);
        ReleaseIdle();
    }

    private sealed class Block : IMemoryOwner<byte>
    {
        private readonly BoundedBlockPool _pool;

        public Block(BoundedBlockPool pool)
        {
            _pool = pool;
            var size = pool._blockSize;
            Memory = MemoryMarshal.CreateFromPinnedArray(GC.AllocateUninitializedArray<byte>(size, pinned: true), 0, size);
            Leased = true;
        }

        public Memory<byte> Memory { get; }

        public bool Leased { get; set; }

        public void Dispose() => _pool.Return(this);
    }
}

/// <summary>The ceiling on idle blocks that the pools of one factory share, counted in blocks.</summary>
internal sealed class IdleBudget
{
    private readonly int _maxBlocks;
    private int _blocks;

    public IdleBudget(long retainedBytes, int blockSize) =>
        _maxBlocks = (int)Math.Clamp(retainedBytes / blockSize, 0, int.MaxValue);

    /// <summary>Idle blocks counted now, across the sharing pools.</summary>
    public int Blocks => Volatile.Read(ref _blocks);

    /// <summary>Takes a place for one more idle block; false at the ceiling.</summary>
    public bool TryTake()
    {
        if (Interlocked.Increment(ref _blocks) <= _maxBlocks)
        {
            return true;
        }

        Interlocked.Decrement(ref _blocks);
        return false;
    }

    /// <summary>Gives back the place of an idle block that was rented again or let go.</summary>
    public void Release() => Interlocked.Decrement(ref _blocks);
}

/// <summary>
/// Makes every Kestrel listener of a host use a <see cref="BoundedBlockPool"/>; all the pools it makes
/// share one ceiling on idle blocks.
/// </summary>
public sealed class BoundedBlockPoolFactory : IMemoryPoolFactory<byte>
{
    private readonly IdleBudget _budget;
    private readonly int _blockSize;

    public BoundedBlockPoolFactory(long retainedBytes, int blockSize = BoundedBlockPool.DefaultBlockSize)
    {
        _budget = new IdleBudget(retainedBytes, blockSize);
        _blockSize = blockSize;
    }

    /// <summary>Idle blocks kept now across every pool this factory made (for tests).</summary>
    internal int IdleBlocks => _budget.Blocks;

    /// <inheritdoc />
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => BoundedBlockPool.Sharing(_budget, _blockSize);
}
