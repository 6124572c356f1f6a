using System.Buffers;
using Microsoft.Extensions.DependencyInjection;
using Registry.Hosting.Memory;

namespace Registry.UnitTests.Hosting;

public sealed class BoundedBlockPoolTests
{
    [Fact]
    public void ReturnedBlocks_AreKeptUpToTheCeiling_AndReused()
    {
        using var pool = new BoundedBlockPool(retainedBytes: 2 * BoundedBlockPool.DefaultBlockSize, coolLater: true);
        var rented = Enumerable.Range(0, 5).Select(_ => pool.Rent()).ToList();
        Assert.All(rented, block => Assert.Equal(BoundedBlockPool.DefaultBlockSize, block.Memory.Length));

        foreach (var block in rented)
        {
            block.Dispose();
        }

        Assert.Equal(2, pool.IdleBlocks);
        Assert.Equal(OperatingSystem.IsLinux() ? 3 : 0, pool.OverflowBlocks);

        // The two kept blocks come back first (the first two returned), then the overflow (Linux), then
        // new ones.
        var again = new[] { pool.Rent(), pool.Rent(), pool.Rent() };
        Assert.Same(rented[0], again[0]);
        Assert.Same(rented[1], again[1]);
        if (OperatingSystem.IsLinux())
        {
            Assert.Same(rented[2], again[2]);
            Assert.Equal(2, pool.OverflowBlocks);
            Assert.Equal(0, pool.ColdBlocks);
        }
        else
        {
            Assert.DoesNotContain(again[2], rented);
        }

        Assert.Equal(0, pool.IdleBlocks);
    }

    [Fact]
    public void OverflowUnusedBetweenTwoChecks_GivesItsPagesBack_AndIsReusedAsZeros()
    {
        using var pool = new BoundedBlockPool(retainedBytes: 0, coolLater: true);
        var block = pool.Rent();
        block.Memory.Span.Fill(0xAB);
        block.Dispose();
        if (!OperatingSystem.IsLinux())
        {
            // Pages are given back with madvise, on Linux only; elsewhere the block goes to the GC.
            Assert.Equal(0, pool.OverflowBlocks + pool.ColdBlocks);
            return;
        }

        // Returned above the ceiling it stays resident until a whole interval between checks passes unused.
        Assert.Equal(1, pool.OverflowBlocks);
        pool.CoolStale();
        Assert.Equal(1, pool.OverflowBlocks);
        pool.CoolStale();
        Assert.Equal(0, pool.OverflowBlocks);
        Assert.Equal(1, pool.ColdBlocks);

        // The same block comes back; every whole page inside it reads as zeros now, and at most the two
        // pages it shares with its neighbours kept their bytes.
        var again = pool.Rent();
        Assert.Same(block, again);
        var span = again.Memory.Span;
        var zeros = span.Count((byte)0);
        Assert.True(zeros >= span.Length - (2 * Environment.SystemPageSize), $"{zeros} of {span.Length} bytes were given back");
        Assert.Equal(span.Length, zeros + span.Count((byte)0xAB));
        again.Dispose();
    }

    [Fact]
    public void WithoutCoolingLater_ABlockAboveTheCeiling_IsGivenBackAtOnce()
    {
        using var pool = new BoundedBlockPool(retainedBytes: 0);
        var block = pool.Rent();
        block.Dispose();
        Assert.Equal(0, pool.OverflowBlocks);
        Assert.Equal(OperatingSystem.IsLinux() ? 1 : 0, pool.ColdBlocks);
    }

    [Fact]
    public void AFactoryWithAnInterval_CoolsItsPoolsOverflowByItself()
    {
        Assert.True(OperatingSystem.IsLinux(), "the registry runs on Linux; overflow is kept there only");
        using var factory = new BoundedBlockPoolFactory(retainedBytes: 0, coolEvery: TimeSpan.FromMilliseconds(50));
        using var pool = (BoundedBlockPool)factory.Create();
        pool.Rent().Dispose();
        Assert.Equal(1, pool.OverflowBlocks + pool.ColdBlocks);

        // Bounded wait: two looks of the timer cool a block nobody took.
        for (var i = 0; i < 100 && pool.ColdBlocks == 0; i++)
        {
            Thread.Sleep(20);
        }

        Assert.Equal(1, pool.ColdBlocks);
        Assert.Equal(0, pool.OverflowBlocks);
    }

    [Fact]
    public void OverflowInUse_StaysResident_OnlyTheUnusedIsCooled()
    {
        Assert.True(OperatingSystem.IsLinux(), "the registry runs on Linux; overflow is kept there only");
        using var pool = new BoundedBlockPool(retainedBytes: 0, coolLater: true);
        var first = pool.Rent();
        var second = pool.Rent();
        first.Dispose();
        second.Dispose();
        pool.CoolStale();

        // A load hovering around the ceiling: one of the two is handed out and comes back in between.
        var again = pool.Rent();
        Assert.Same(first, again);
        again.Dispose();
        pool.CoolStale();

        // Only one was never needed during the interval: one cooled, one still resident.
        Assert.Equal(1, pool.ColdBlocks);
        Assert.Equal(1, pool.OverflowBlocks);
    }

    [Fact]
    public void ReleaseIdle_GivesEveryKeptBlockBack()
    {
        using var pool = new BoundedBlockPool(retainedBytes: 64 * BoundedBlockPool.DefaultBlockSize);
        var first = pool.Rent();
        first.Dispose();
        pool.Rent().Dispose();
        Assert.Equal(1, pool.IdleBlocks);

        BoundedBlockPool.ReleaseAllIdle();

        Assert.Equal(0, pool.IdleBlocks);
        if (OperatingSystem.IsLinux())
        {
            // Given back to the system at once, and the block itself is what comes out next.
            Assert.Equal(1, pool.ColdBlocks);
            Assert.Same(first, pool.Rent());
        }
        else
        {
            Assert.NotSame(first, pool.Rent());
        }
    }

    [Fact]
    public void DisposingABlockTwice_ReturnsItOnce()
    {
        using var pool = new BoundedBlockPool(retainedBytes: 64 * BoundedBlockPool.DefaultBlockSize);
        var block = pool.Rent();
        block.Dispose();
        block.Dispose();

        Assert.Equal(1, pool.IdleBlocks);
        Assert.Same(block, pool.Rent());
        Assert.NotSame(block, pool.Rent());
    }

    [Fact]
    public void LargerThanABlock_IsRefused_AndBlocksAreOneArray()
    {
        using var pool = new BoundedBlockPool(retainedBytes: 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(BoundedBlockPool.DefaultBlockSize + 1));

        using var block = pool.Rent(100);
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(block.Memory, out var segment));
        Assert.Equal(BoundedBlockPool.DefaultBlockSize, segment.Array!.Length);
        Assert.Equal(0, pool.IdleBlocks);
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(65536)]
    public void BlockSize_IsChosen_AndBoundsTheRetainedCount(int blockSize)
    {
        using var pool = new BoundedBlockPool(retainedBytes: 2L * blockSize, blockSize);
        Assert.Equal(blockSize, pool.MaxBufferSize);
        var rented = new[] { pool.Rent(), pool.Rent(), pool.Rent() };
        Assert.All(rented, block => Assert.Equal(blockSize, block.Memory.Length));
        foreach (var block in rented)
        {
            block.Dispose();
        }

        Assert.Equal(2, pool.IdleBlocks);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2048)]
    [InlineData(4097)]
    [InlineData(40000)]
    public void BlockSize_MustBeAPowerOfTwoOfAtLeastAPage(int blockSize) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new BoundedBlockPool(retainedBytes: 0, blockSize));

    [Fact]
    public void PoolsOfOneFactory_ShareTheCeiling()
    {
        var factory = new BoundedBlockPoolFactory(retainedBytes: 3 * BoundedBlockPool.DefaultBlockSize);
        using var first = (BoundedBlockPool)factory.Create();
        using var second = (BoundedBlockPool)factory.Create();
        var fromFirst = new[] { first.Rent(), first.Rent() };
        var fromSecond = new[] { second.Rent(), second.Rent() };

        foreach (var block in fromFirst.Concat(fromSecond))
        {
            block.Dispose();
        }

        // Three places in all: the first pool kept both of its blocks, the second only one.
        Assert.Equal(2, first.IdleBlocks);
        Assert.Equal(1, second.IdleBlocks);
        Assert.Equal(3, factory.IdleBlocks);

        // A block rented again gives its place back, and the other pool can use it.
        using var again = first.Rent();
        var more = new[] { second.Rent(), second.Rent() };
        more[0].Dispose();
        more[1].Dispose();
        Assert.Equal(1, first.IdleBlocks);
        Assert.Equal(2, second.IdleBlocks);
        Assert.Equal(3, factory.IdleBlocks);

        first.Dispose();
        Assert.Equal(2, factory.IdleBlocks);
    }
}

public sealed class MemoryOptionsTests
{
    [Theory]
    [InlineData(4096)]
    [InlineData(32768)]
    [InlineData(1048576)]
    public void IoBlockBytes_PowersOfTwoInRange_AreAccepted(int bytes) =>
        new Registry.Hosting.Memory.MemoryOptions { IoBlockBytes = bytes }.Validate();

    [Theory]
    [InlineData(-4096)]
    [InlineData(1024)]
    [InlineData(5000)]
    [InlineData(2097152)]
    public void IoBlockBytes_Others_StopStartupNamingTheSetting(int bytes)
    {
        var error = Assert.Throws<InvalidOperationException>(() => new Registry.Hosting.Memory.MemoryOptions { IoBlockBytes = bytes }.Validate());
        Assert.Contains("Registry:Memory:IoBlockBytes", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(32768)]
    [InlineData(1048576)]
    [InlineData(67108864)]
    public void ReadAheadBytes_FromOneBlockTo64MiB_AreAccepted(long bytes) =>
        new Registry.Hosting.Memory.MemoryOptions { ReadAheadBytes = bytes }.Validate();

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(16384)]
    [InlineData(67108865)]
    public void ReadAheadBytes_Others_StopStartupNamingTheSetting(long bytes)
    {
        var error = Assert.Throws<InvalidOperationException>(() => new Registry.Hosting.Memory.MemoryOptions { ReadAheadBytes = bytes }.Validate());
        Assert.Contains("Registry:Memory:ReadAheadBytes", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4096)]
    [InlineData(262144)]
    [InlineData(1048576)]
    public void LargeBlockBytes_ZeroOrPowersOfTwoInRange_AreAccepted(int bytes) =>
        new Registry.Hosting.Memory.MemoryOptions { LargeBlockBytes = bytes }.Validate();

    [Theory]
    [InlineData(-1)]
    [InlineData(2048)]
    [InlineData(300000)]
    [InlineData(2097152)]
    public void LargeBlockBytes_Others_StopStartupNamingTheSetting(int bytes)
    {
        var error = Assert.Throws<InvalidOperationException>(() => new Registry.Hosting.Memory.MemoryOptions { LargeBlockBytes = bytes }.Validate());
        Assert.Contains("Registry:Memory:LargeBlockBytes", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadAheadBytes_WithKestrelsOwnPool_GoesDownToItsPage()
    {
        new Registry.Hosting.Memory.MemoryOptions { RetainedPoolBytes = -1, ReadAheadBytes = 4096 }.Validate();
        var error = Assert.Throws<InvalidOperationException>(
            () => new Registry.Hosting.Memory.MemoryOptions { RetainedPoolBytes = -1, ReadAheadBytes = 4095 }.Validate());
        Assert.Contains("Registry:Memory:ReadAheadBytes", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, 1048576)]
    [InlineData("65536", 65536)]
    public void ReadAheadBytes_ReachesTheSocketTransport(string? setting, long expected)
    {
        var args = new List<string> { "--urls", "http://127.0.0.1:0" };
        if (setting is not null)
        {
            args.Add($"--Registry:Memory:ReadAheadBytes={setting}");
        }

        var builder = Registry.Hosting.RegistryHost.CreateServiceBuilder([.. args]);
        using var app = builder.Build();
        var sockets = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<
            Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets.SocketTransportOptions>>().Value;
        Assert.Equal(expected, sockets.MaxReadBufferSize);
    }
}

public sealed class TieredBlockPoolTests
{
    private const int Large = 256 * 1024;

    [Fact]
    public void Requests_UpToAnIoBlock_GetIoBlocks_AndLargerOnes_GetLargeBlocks()
    {
        using var factory = new BoundedBlockPoolFactory(
            retainedBytes: 4 * BoundedBlockPool.DefaultBlockSize, largeBlockSize: Large, largeRetainedBytes: 2 * Large);
        using var pool = Assert.IsType<TieredBlockPool>(factory.Create());
        Assert.Equal(Large, pool.MaxBufferSize);

        using var unsized = pool.Rent();
        using var page = pool.Rent(4096);
        using var ioBlock = pool.Rent(BoundedBlockPool.DefaultBlockSize);
        using var justAbove = pool.Rent(BoundedBlockPool.DefaultBlockSize + 1);
        using var large = pool.Rent(Large);
        Assert.Equal(BoundedBlockPool.DefaultBlockSize, unsized.Memory.Length);
        Assert.Equal(BoundedBlockPool.DefaultBlockSize, page.Memory.Length);
        Assert.Equal(BoundedBlockPool.DefaultBlockSize, ioBlock.Memory.Length);
        Assert.Equal(Large, justAbove.Memory.Length);
        Assert.Equal(Large, large.Memory.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(Large + 1));

        // Kestrel's sends of several buffers need arrays under them.
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(large.Memory, out var segment));
        Assert.Equal(Large, segment.Count);
    }

    [Fact]
    public void LargeBlocks_HaveTheirOwnCeiling_AndAreReused()
    {
        using var factory = new BoundedBlockPoolFactory(
            retainedBytes: 4 * BoundedBlockPool.DefaultBlockSize, largeBlockSize: Large, largeRetainedBytes: 2 * Large);
        using var first = Assert.IsType<TieredBlockPool>(factory.Create());
        using var second = Assert.IsType<TieredBlockPool>(factory.Create());
        var large = new[] { first.Rent(Large), first.Rent(Large), second.Rent(Large) };
        var small = new[] { first.Rent(), second.Rent() };
        foreach (var block in large.Concat(small))
        {
            block.Dispose();
        }

        // Two places for large blocks across the factory's pools, four for I/O blocks; without a cooling
        // interval the third large block gave its pages back at once.
        Assert.Equal(2, factory.IdleLargeBlocks);
        Assert.Equal(2, factory.IdleBlocks);
        Assert.Equal(2, first.Large.IdleBlocks);
        Assert.Equal(0, second.Large.IdleBlocks);
        Assert.Equal(OperatingSystem.IsLinux() ? 1 : 0, second.Large.ColdBlocks);

        using var again = first.Rent(Large);
        Assert.Same(large[0], again);
        Assert.Equal(1, factory.IdleLargeBlocks);
    }

    [Fact]
    public void WithoutALargeSize_TheFactoryMakesPlainPools() =>
        Assert.IsType<BoundedBlockPool>(new BoundedBlockPoolFactory(retainedBytes: 0).Create());

    [Fact]
    public void ALargeSize_NotAboveTheIoBlock_AddsNoTier() =>
        Assert.IsType<BoundedBlockPool>(
            new BoundedBlockPoolFactory(retainedBytes: 0, largeBlockSize: BoundedBlockPool.DefaultBlockSize).Create());
}
