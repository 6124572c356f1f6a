using System.Buffers;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;
using Prometheus;

namespace Registry.Hosting.Memory;

/// <summary>
/// Kestrel's buffer pool with a ceiling on what it keeps resident. Kestrel's own pool keeps every 4 KiB
/// block it ever handed out and gives back at most 5 % of them every 10 seconds, so one burst of slow
/// clients (500 downloads holding a 256 KiB response buffer each) stays resident for many minutes. This
/// pool keeps at most <see cref="MemoryOptions.RetainedPoolBytes"/> of returned blocks ready, counted
/// across every pool of one <see cref="BoundedBlockPoolFactory"/> (Kestrel's socket transport asks for
/// one pool per I/O queue, one queue per CPU up to 16, so a ceiling per pool grew with the machine).
/// Blocks are pinned arrays, as Kestrel's are, so socket I/O never pins per call (and Kestrel's sends of
/// several buffers need arrays). On Linux a block returned above the ceiling waits as overflow; overflow
/// not handed out again between two looks of its factory (every <see cref="MemoryOptions.IdleCheckInterval"/>,
/// 2 s by default) is cooled: the whole pages inside it go back to the system (madvise), and the block waits, not
/// resident, to be handed out again before any new one is made. A load that hovers around the ceiling
/// thus costs no page faults, and a burst's buffers leave the resident set seconds after it. Letting such
/// blocks go to the GC instead left the pinned heap full of holes after a burst (25 MB of fragmentation
/// after 500 clients), which stayed resident. Elsewhere a block above the ceiling goes to the GC.
/// Under heap pressure (<see cref="HeapPressure"/>) nothing is kept: returned blocks and every idle,
/// overflow or cooled one go to the GC, which counts them against a heap hard limit however cool they are.
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

    // By the pool's block size (label block_bytes): Kestrel's socket buffers and the large blocks of blob
    // transfers differ by a factor of eight and more, and a sum hides which of them holds the memory.
    private static readonly string[] BlockLabel = ["block_bytes"];

    private static readonly Counter AllocatedBytes = Metrics.CreateCounter(
        "registry_buffer_pool_allocated_bytes_total", "Bytes of I/O buffers allocated because the pool had none to hand out, by block size.",
        new CounterConfiguration { LabelNames = BlockLabel });

    private static readonly Counter ReleasedBytes = Metrics.CreateCounter(
        "registry_buffer_pool_released_bytes_total", "Bytes of returned I/O buffers the pool gave back because it held its ceiling already (their pages to the system on Linux, the buffers to the GC elsewhere), by block size.",
        new CounterConfiguration { LabelNames = BlockLabel });

    private static readonly Gauge ColdBytes = Metrics.CreateGauge(
        "registry_buffer_pool_cold_bytes", "Bytes of I/O buffers whose pages went back to the system, kept (not resident) to be handed out again before new ones are made, by block size.",
        new GaugeConfiguration { LabelNames = BlockLabel });

    private static readonly Gauge RetainedBytes = Metrics.CreateGauge(
        "registry_buffer_pool_retained_bytes", "Bytes of idle I/O buffers the pools keep for reuse, by block size.",
        new GaugeConfiguration { LabelNames = BlockLabel });

    private static readonly Gauge LeasedBytes = Metrics.CreateGauge(
        "registry_buffer_pool_leased_bytes", "Bytes of I/O buffers handed out and not yet returned: what sockets, request bodies and responses hold now, by block size.",
        new GaugeConfiguration { LabelNames = BlockLabel });

    private readonly Counter.Child _allocatedBytes;
    private readonly Counter.Child _releasedBytes;
    private readonly Gauge.Child _coldBytes;
    private readonly Gauge.Child _retainedBytes;
    private readonly Gauge.Child _leasedBytes;

    // Every pool not yet disposed, so an idle process can empty them all before it collects.
    private static readonly ConcurrentDictionary<BoundedBlockPool, byte> Live = new();

    private readonly ConcurrentQueue<Block> _idle = new();
    private readonly ConcurrentQueue<Block> _overflow = new();
    private readonly ConcurrentQueue<Block> _cold = new();
    private readonly int _blockSize;
    private readonly IdleBudget _budget;
    private readonly ColdBudget _coldBudget;
    private readonly bool _coolLater;
    private int _overflowBlocks;

    // The fewest overflow blocks waiting at any moment since the last CoolStale: that many went unused.
    private int _overflowLow;
    private int _idleBlocks;
    private bool _disposed;

    // Under heap pressure buffers kept for reuse (even cooled ones, which the GC still counts) are let go.
    static BoundedBlockPool() => HeapPressure.Rose += static _ => DropAllIdle();

    /// <summary>
    /// A pool that keeps at most <paramref name="retainedBytes"/> of idle blocks on its own. With
    /// <paramref name="coolLater"/> a block above the ceiling waits as overflow until <see cref="CoolStale"/>
    /// finds it unused; without, it is given back at once.
    /// </summary>
    public BoundedBlockPool(long retainedBytes, int blockSize = DefaultBlockSize, bool coolLater = false)
        : this(new IdleBudget(retainedBytes, CheckBlockSize(blockSize)), ColdBudget.Unbounded, blockSize, coolLater)
    {
    }

    private BoundedBlockPool(IdleBudget budget, ColdBudget coldBudget, int blockSize, bool coolLater)
    {
        _blockSize = CheckBlockSize(blockSize);
        var label = blockSize.ToString(System.Globalization.CultureInfo.InvariantCulture);
        (_allocatedBytes, _releasedBytes) = (AllocatedBytes.WithLabels(label), ReleasedBytes.WithLabels(label));
        (_coldBytes, _retainedBytes, _leasedBytes) = (ColdBytes.WithLabels(label), RetainedBytes.WithLabels(label), LeasedBytes.WithLabels(label));
        _budget = budget;
        _coldBudget = coldBudget;
        _coolLater = coolLater;
        Live.TryAdd(this, 0);
    }

    /// <summary>A pool that shares <paramref name="budget"/>'s ceiling with the other pools made with it.</summary>
    internal static BoundedBlockPool Sharing(IdleBudget budget, ColdBudget coldBudget, int blockSize, bool coolLater) =>
        new(budget, coldBudget, blockSize, coolLater);

    /// <summary>Whether this pool's ceiling is <paramref name="budget"/> (the factory's cooling timer asks).</summary>
    internal bool Shares(IdleBudget budget) => ReferenceEquals(_budget, budget);

    private static int CheckBlockSize(int blockSize) =>
        blockSize >= MinimumBlockSize && int.IsPow2(blockSize)
            ? blockSize
            : throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, "a power of two of at least 4096 bytes");

    /// <summary>
    /// Gives back every pool's idle blocks and overflow (the idle trim calls it before collecting): on
    /// Linux their pages go to the system and the blocks wait to be handed out again; elsewhere they go to
    /// the GC, which an idle process is better off with than with pinned blocks holding heap regions.
    /// </summary>
    public static void ReleaseAllIdle()
    {
        foreach (var pool in Live.Keys)
        {
            pool.ReleaseIdle();
        }
    }

    /// <summary>Gives back this pool's idle blocks (cooled on Linux, to the GC elsewhere).</summary>
    public void ReleaseIdle()
    {
        while (_idle.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _idleBlocks);
            _budget.Release();
            _retainedBytes.Dec(BlockSize);
            GiveBack(block);
        }

        CoolOverflow(int.MaxValue);
    }

    /// <summary>
    /// Lets every pool's idle, overflow and cooled blocks go to the GC. A cooled block has no pages
    /// resident, but the GC counts its array against a heap hard limit all the same.
    /// </summary>
    internal static void DropAllIdle()
    {
        foreach (var pool in Live.Keys)
        {
            pool.DropIdle();
        }
    }

    private void DropIdle()
    {
        while (_idle.TryDequeue(out _))
        {
            Interlocked.Decrement(ref _idleBlocks);
            _budget.Release();
            _retainedBytes.Dec(BlockSize);
            _releasedBytes.Inc(BlockSize);
        }

        while (_overflow.TryDequeue(out _))
        {
            Interlocked.Decrement(ref _overflowBlocks);
            _retainedBytes.Dec(BlockSize);
            _releasedBytes.Inc(BlockSize);
        }

        while (_cold.TryDequeue(out _))
        {
            _coldBytes.Dec(BlockSize);
            _coldBudget.Release(BlockSize);
        }
    }

    /// <summary>Every pool not yet disposed.</summary>
    internal static ICollection<BoundedBlockPool> LivePools => Live.Keys;

    /// <summary>Cools the overflow blocks that went unused since the last call.</summary>
    public void CoolStale()
    {
        var unused = Interlocked.Exchange(ref _overflowLow, int.MaxValue);
        CoolOverflow(Math.Min(unused, Volatile.Read(ref _overflowBlocks)));
        AtomicMin.Lower(ref _overflowLow, Volatile.Read(ref _overflowBlocks));
    }

    private void CoolOverflow(int count)
    {
        for (var i = 0; i < count && _overflow.TryDequeue(out var block); i++)
        {
            Interlocked.Decrement(ref _overflowBlocks);
            _retainedBytes.Dec(BlockSize);
            GiveBack(block);
        }
    }

    /// <inheritdoc />
    public override int MaxBufferSize => _blockSize;

    /// <summary>The size of every block this pool hands out.</summary>
    public int BlockSize => _blockSize;

    /// <summary>Idle blocks kept for reuse (for tests).</summary>
    public int IdleBlocks => Volatile.Read(ref _idleBlocks);

    /// <summary>Blocks returned above the ceiling, still resident, waiting to be handed out or cooled (for tests).</summary>
    public int OverflowBlocks => Volatile.Read(ref _overflowBlocks);

    /// <summary>Cooled blocks waiting to be handed out again (for tests).</summary>
    public int ColdBlocks => _cold.Count;

    /// <inheritdoc />
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, BlockSize);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idle.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _idleBlocks);
            _budget.Release();
            _retainedBytes.Dec(BlockSize);
            _leasedBytes.Inc(BlockSize);
            block.StartLease();
            return block;
        }

        if (_overflow.TryDequeue(out block))
        {
            AtomicMin.Lower(ref _overflowLow, Interlocked.Decrement(ref _overflowBlocks));
            _retainedBytes.Dec(BlockSize);
            _leasedBytes.Inc(BlockSize);
            block.StartLease();
            return block;
        }

        if (_cold.TryDequeue(out block))
        {
            // Its pages come back, zeroed, as they are written.
            _coldBytes.Dec(BlockSize);
            _coldBudget.Release(BlockSize);
            _leasedBytes.Inc(BlockSize);
            block.StartLease();
            return block;
        }

        _allocatedBytes.Inc(BlockSize);
        _leasedBytes.Inc(BlockSize);
        return new Block(this);
    }

    private void Return(Block block)
    {
        if (!block.EndLease())
        {
            // Disposed twice: the first return counted.
            return;
        }

        _leasedBytes.Dec(BlockSize);
        var pressed = HeapPressure.Level != HeapPressureLevel.Normal;
        if (!_disposed && !pressed && _budget.TryTake())
        {
            Interlocked.Increment(ref _idleBlocks);
            _retainedBytes.Inc(BlockSize);
            _idle.Enqueue(block);
            return;
        }

        if (_coolLater && !_disposed && !pressed && PageRelease.Available)
        {
            // Kept resident until the factory's next checks find it unused (CoolStale).
            _retainedBytes.Inc(BlockSize);
            _overflow.Enqueue(block);
            Interlocked.Increment(ref _overflowBlocks);
            return;
        }

        GiveBack(block);
    }

    // Above the ceiling: the block's pages go back to the system and the block waits to be reused; where
    // that cannot be done (not Linux, a disposed pool), under heap pressure, or with the cooled blocks at
    // their own ceiling (the GC counts a cooled block against a heap limit whole), it goes to the GC.
    private void GiveBack(Block block)
    {
        _releasedBytes.Inc(BlockSize);
        if (_disposed || HeapPressure.Level != HeapPressureLevel.Normal || !_coldBudget.TryTake(BlockSize))
        {
            return;
        }

        if (!block.Cool())
        {
            _coldBudget.Release(BlockSize);
            return;
        }

        _coldBytes.Inc(BlockSize);
        _cold.Enqueue(block);
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _disposed = true;
        Live.TryRemove(this, out _);
        ReleaseIdle();
        while (_overflow.TryDequeue(out _))
        {
            Interlocked.Decrement(ref _overflowBlocks);
            _retainedBytes.Dec(BlockSize);
        }

        while (_cold.TryDequeue(out _))
        {
            _coldBytes.Dec(BlockSize);
            _coldBudget.Release(BlockSize);
        }
    }

    private sealed class Block : IMemoryOwner<byte>
    {
        private readonly BoundedBlockPool _pool;
        private readonly byte[] _array;

        public Block(BoundedBlockPool pool)
        {
            _pool = pool;
            var size = pool._blockSize;
            _array = GC.AllocateUninitializedArray<byte>(size, pinned: true);
            Memory = MemoryMarshal.CreateFromPinnedArray(_array, 0, size);
            _leased = 1;
        }

        public Memory<byte> Memory { get; }

        // 1 while handed out; a return swaps it to 0, so a block disposed twice at once is taken back once.
        private int _leased;

        public void StartLease() => Volatile.Write(ref _leased, 1);

        public bool EndLease() => Interlocked.Exchange(ref _leased, 0) == 1;

        public void Dispose() => _pool.Return(this);

        /// <summary>Gives the whole pages inside the block back to the system; false where that cannot be done.</summary>
        public bool Cool() => PageRelease.Release(_array);
    }
}

/// <summary>The ceiling on cooled blocks that the pools of one factory share (both sizes), counted in bytes.</summary>
internal sealed class ColdBudget(long maxBytes)
{
    /// <summary>No ceiling (a pool made on its own).</summary>
    public static readonly ColdBudget Unbounded = new(long.MaxValue);

    private long _bytes;

    /// <summary>Cooled bytes counted now.</summary>
    public long Bytes => Volatile.Read(ref _bytes);

    /// <summary>Takes room for one more cooled block; false at the ceiling.</summary>
    public bool TryTake(int bytes)
    {
        if (Interlocked.Add(ref _bytes, bytes) <= maxBytes)
        {
            return true;
        }

        Interlocked.Add(ref _bytes, -bytes);
        return false;
    }

    /// <summary>Gives back the room of a cooled block that was handed out again or let go.</summary>
    public void Release(int bytes) => Interlocked.Add(ref _bytes, -bytes);
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
/// share one ceiling on idle blocks. With a large block size, each pool it makes is a
/// <see cref="TieredBlockPool"/>: I/O blocks plus large blocks, each size with its own shared ceiling.
/// </summary>
public sealed class BoundedBlockPoolFactory : IMemoryPoolFactory<byte>, IDisposable
{
    private readonly IdleBudget _budget;
    private readonly ColdBudget _coldBudget;
    private readonly int _blockSize;
    private readonly IdleBudget? _largeBudget;
    private readonly int _largeBlockSize;
    private readonly Timer? _cooling;

    /// <summary>
    /// Pools sharing one ceiling. With a positive <paramref name="coolEvery"/> (Linux) blocks returned above
    /// it wait as overflow, and every <paramref name="coolEvery"/> the overflow that went unused since the
    /// last look is cooled; otherwise they are given back at once. A <paramref name="largeBlockSize"/> above
    /// <paramref name="blockSize"/> (a power of two) adds large blocks for writers that ask for more
    /// than one I/O block at once, with <paramref name="largeRetainedBytes"/> as their own ceiling. Cooled
    /// blocks of both sizes together stay within <paramref name="coldCeilingBytes"/>; beyond it they go to the GC.
    /// </summary>
    public BoundedBlockPoolFactory(
        long retainedBytes,
        int blockSize = BoundedBlockPool.DefaultBlockSize,
        TimeSpan coolEvery = default,
        int largeBlockSize = 0,
        long largeRetainedBytes = 0,
        long coldCeilingBytes = long.MaxValue)
    {
        _budget = new IdleBudget(retainedBytes, blockSize);
        _coldBudget = new ColdBudget(coldCeilingBytes);
        _blockSize = blockSize;
        if (largeBlockSize > blockSize)
        {
            _largeBudget = new IdleBudget(largeRetainedBytes, largeBlockSize);
            _largeBlockSize = largeBlockSize;
        }

        if (coolEvery > TimeSpan.Zero && PageRelease.Available)
        {
            _cooling = new Timer(static state => ((BoundedBlockPoolFactory)state!).CoolStale(), this, coolEvery, coolEvery);
        }
    }

    /// <summary>Idle blocks kept now across every pool this factory made (for tests).</summary>
    internal int IdleBlocks => _budget.Blocks;

    /// <summary>Bytes of cooled blocks kept now across every pool this factory made (for tests).</summary>
    internal long ColdBytes => _coldBudget.Bytes;

    /// <summary>Idle large blocks kept now across every pool this factory made (for tests).</summary>
    internal int IdleLargeBlocks => _largeBudget?.Blocks ?? 0;

    /// <inheritdoc />
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        var coolLater = _cooling is not null;
        var small = BoundedBlockPool.Sharing(_budget, _coldBudget, _blockSize, coolLater);
        return _largeBudget is null
            ? small
            : new TieredBlockPool(small, BoundedBlockPool.Sharing(_largeBudget, _coldBudget, _largeBlockSize, coolLater));
    }

    /// <summary>Stops the cooling timer.</summary>
    public void Dispose() => _cooling?.Dispose();

    private void CoolStale()
    {
        try
        {
            foreach (var pool in BoundedBlockPool.LivePools)
            {
                if (pool.Shares(_budget) || (_largeBudget is not null && pool.Shares(_largeBudget)))
                {
                    pool.CoolStale();
                }
            }
        }
        catch (OutOfMemoryException)
        {
            // A timer callback that throws ends the process; the next look cools what this one missed.
        }
    }
}

/// <summary>
/// Two bounded pools behind one: I/O blocks for socket reads and ordinary writes, large blocks for a writer
/// that asks for more at once (a blob GET reads 256 KiB of the file per call straight into the response
/// pipe). A pipe takes any buffer larger than its pool's <see cref="MaxBufferSize"/> from the shared array
/// pool, which keeps up to 32 arrays of each size per CPU for as long as the process lives; here those
/// buffers get the same ceiling and the same cooling as the I/O blocks.
/// </summary>
public sealed class TieredBlockPool : MemoryPool<byte>
{
    /// <summary>A pool that hands out <paramref name="small"/>'s blocks up to their size and <paramref name="large"/>'s above it.</summary>
    public TieredBlockPool(BoundedBlockPool small, BoundedBlockPool large)
    {
        ArgumentNullException.ThrowIfNull(small);
        ArgumentNullException.ThrowIfNull(large);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(large.BlockSize, small.BlockSize);
        Small = small;
        Large = large;
    }

    /// <summary>The pool of I/O blocks.</summary>
    public BoundedBlockPool Small { get; }

    /// <summary>The pool of large blocks.</summary>
    public BoundedBlockPool Large { get; }

    /// <inheritdoc />
    public override int MaxBufferSize => Large.BlockSize;

    /// <inheritdoc />
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1) =>
        minBufferSize <= Small.BlockSize ? Small.Rent(minBufferSize) : Large.Rent(minBufferSize);

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        Small.Dispose();
        Large.Dispose();
    }
}
