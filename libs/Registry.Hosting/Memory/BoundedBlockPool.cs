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
/// keeps at most <see cref="MemoryOptions.RetainedPoolBytes"/> of returned blocks per pool and lets
/// the rest go to the GC, which the idle trim (<see cref="IdleMemoryTrimmer"/>) then gives back to the
/// system. Blocks are pinned arrays, as Kestrel's are, so socket I/O never pins per call.
/// </summary>
public sealed class BoundedBlockPool : MemoryPool<byte>
{
    /// <summary>The size of every block: one page, as in Kestrel's pool.</summary>
    public const int BlockSize = 4096;

    private static readonly Counter Allocated = Metrics.CreateCounter(
        "registry_buffer_pool_allocated_bytes_total", "Bytes of 4 KiB I/O buffers allocated because the pool had none to hand out.");

    private static readonly Counter Released = Metrics.CreateCounter(
        "registry_buffer_pool_released_bytes_total", "Bytes of returned I/O buffers the pool let go to the GC because it held its ceiling already.");

    private static readonly Gauge Retained = Metrics.CreateGauge(
        "registry_buffer_pool_retained_bytes", "Bytes of idle I/O buffers the pools keep for reuse.");

    // Every pool not yet disposed, so an idle process can empty them all before it collects.
    private static readonly ConcurrentDictionary<BoundedBlockPool, byte> Live = new();

    private readonly ConcurrentQueue<Block> _idle = new();
    private readonly int _maxIdleBlocks;
    private int _idleBlocks;
    private bool _disposed;

    public BoundedBlockPool(long retainedBytes)
    {
        _maxIdleBlocks = (int)Math.Clamp(retainedBytes / BlockSize, 0, int.MaxValue);
        Live.TryAdd(this, 0);
    }

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
            Retained.Dec(BlockSize);
            Released.Inc(BlockSize);
        }
    }

    /// <inheritdoc />
    public override int MaxBufferSize => BlockSize;

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
            Retained.Dec(BlockSize);
            block.Leased = true;
            return block;
        }

        Allocated.Inc(BlockSize);
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
        if (!_disposed && Interlocked.Increment(ref _idleBlocks) <= _maxIdleBlocks)
        {
            Retained.Inc(BlockSize);
            _idle.Enqueue(block);
            return;
        }

        if (!_disposed)
        {
            // Over the ceiling: take back the place counted above.
            Interlocked.Decrement(ref _idleBlocks);
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
            Memory = MemoryMarshal.CreateFromPinnedArray(GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true), 0, BlockSize);
            Leased = true;
        }

        public Memory<byte> Memory { get; }

        public bool Leased { get; set; }

        public void Dispose() => _pool.Return(this);
    }
}

/// <summary>Makes every Kestrel listener of a host use a <see cref="BoundedBlockPool"/>.</summary>
public sealed class BoundedBlockPoolFactory : IMemoryPoolFactory<byte>
{
    private readonly long _retainedBytes;

    public BoundedBlockPoolFactory(long retainedBytes)
    {
        _retainedBytes = retainedBytes;
    }

    /// <inheritdoc />
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new BoundedBlockPool(_retainedBytes);
}
