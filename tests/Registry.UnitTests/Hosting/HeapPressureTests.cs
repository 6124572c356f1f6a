using Registry.Hosting.Memory;

namespace Registry.UnitTests.Hosting;

// The heap pressure level is one per process, and the buffer pools read it: these tests run alone.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapPressureCollection
{
    public const string Name = "heap pressure";
}

[Collection(HeapPressureCollection.Name)]
public sealed class HeapPressureTests : IDisposable
{
    private const int Block = BoundedBlockPool.DefaultBlockSize;

    public HeapPressureTests() => HeapPressure.Reset();

    public void Dispose() => HeapPressure.Reset();

    [Theory]
    [InlineData(HeapPressureLevel.Normal, 0.10, HeapPressureLevel.Normal)]
    [InlineData(HeapPressureLevel.Normal, 0.59, HeapPressureLevel.Normal)]
    [InlineData(HeapPressureLevel.Normal, 0.60, HeapPressureLevel.High)]
    [InlineData(HeapPressureLevel.Normal, 0.80, HeapPressureLevel.Critical)]
    // Down again only a tenth of the limit below the threshold it rose at.
    [InlineData(HeapPressureLevel.High, 0.55, HeapPressureLevel.High)]
    [InlineData(HeapPressureLevel.High, 0.49, HeapPressureLevel.Normal)]
    [InlineData(HeapPressureLevel.High, 0.74, HeapPressureLevel.High)]
    [InlineData(HeapPressureLevel.High, 0.75, HeapPressureLevel.Critical)]
    [InlineData(HeapPressureLevel.Critical, 0.70, HeapPressureLevel.Critical)]
    [InlineData(HeapPressureLevel.Critical, 0.64, HeapPressureLevel.High)]
    [InlineData(HeapPressureLevel.Critical, 0.55, HeapPressureLevel.High)]
    [InlineData(HeapPressureLevel.Critical, 0.40, HeapPressureLevel.Normal)]
    public void Level_RisesAtItsThresholds_AndFallsWellBelowThem(HeapPressureLevel current, double share, HeapPressureLevel expected) =>
        Assert.Equal(expected, HeapPressure.Next(current, share));

    [Fact]
    public void Observe_SetsTheLevelFromHeapAndLimit()
    {
        Assert.Equal(HeapPressureLevel.High, HeapPressure.Observe(65, 100));
        Assert.Equal(HeapPressureLevel.High, HeapPressure.Level);
        Assert.Equal(100, HeapPressure.LimitBytes);
        Assert.Equal(HeapPressureLevel.Critical, HeapPressure.Observe(90, 100));
        Assert.Equal(HeapPressureLevel.Normal, HeapPressure.Observe(10, 100));

        // A reading without a limit changes nothing.
        HeapPressure.Observe(90, 100);
        Assert.Equal(HeapPressureLevel.Critical, HeapPressure.Observe(1, 0));
    }

    [Fact]
    public void Rising_DropsEveryPoolsIdleOverflowAndCooledBlocks()
    {
        using var pool = new BoundedBlockPool(retainedBytes: 2 * Block, coolLater: true);
        var rented = Enumerable.Range(0, 6).Select(_ => pool.Rent()).ToList();
        foreach (var block in rented)
        {
            block.Dispose();
        }

        pool.CoolStale();
        pool.CoolStale();
        Assert.Equal(2, pool.IdleBlocks);
        if (OperatingSystem.IsLinux())
        {
            Assert.Equal(4, pool.ColdBlocks);
        }

        HeapPressure.Observe(70, 100);

        Assert.Equal(0, pool.IdleBlocks);
        Assert.Equal(0, pool.OverflowBlocks);
        Assert.Equal(0, pool.ColdBlocks);
    }

    [Fact]
    public void UnderPressure_ReturnedBlocksAreNotKept_AndAreKeptAgainOnceItEnds()
    {
        using var pool = new BoundedBlockPool(retainedBytes: 4 * Block, coolLater: true);
        HeapPressure.Observe(70, 100);
        var rented = Enumerable.Range(0, 3).Select(_ => pool.Rent()).ToList();
        foreach (var block in rented)
        {
            block.Dispose();
        }

        Assert.Equal(0, pool.IdleBlocks + pool.OverflowBlocks + pool.ColdBlocks);

        HeapPressure.Observe(10, 100);
        var again = pool.Rent();
        Assert.DoesNotContain(again, rented);
        again.Dispose();
        Assert.Equal(1, pool.IdleBlocks);
    }

    [Fact]
    public void CooledBlocks_StayWithinTheirCeiling_TheRestGoToTheGc()
    {
        var idle = new IdleBudget(retainedBytes: 0, Block);
        var cold = new ColdBudget(2 * Block);
        using var pool = BoundedBlockPool.Sharing(idle, cold, Block, coolLater: false);
        var rented = Enumerable.Range(0, 5).Select(_ => pool.Rent()).ToList();
        foreach (var block in rented)
        {
            block.Dispose();
        }

        Assert.Equal(OperatingSystem.IsLinux() ? 2 : 0, pool.ColdBlocks);
        Assert.Equal(OperatingSystem.IsLinux() ? 2 * Block : 0, cold.Bytes);

        // A cooled block handed out again gives its room back.
        pool.Rent().Dispose();
        Assert.Equal(OperatingSystem.IsLinux() ? 2 * Block : 0, cold.Bytes);
        var taken = pool.Rent();
        Assert.Equal(OperatingSystem.IsLinux() ? Block : 0, cold.Bytes);
        taken.Dispose();
    }

    [Theory]
    [InlineData(64L << 20, 8 * 1024)]
    [InlineData(128L << 20, 16 * 1024)]
    [InlineData(256L << 20, 32 * 1024)]
    [InlineData(24L << 30, 32 * 1024)]
    [InlineData(16L << 20, 4 * 1024)]
    [InlineData(100L << 20, 8 * 1024)]
    public void IoBuffers_ShrinkWithASmallLimit(long limit, int expected) =>
        Assert.Equal(expected, new MemoryOptions().EffectiveIoBlockBytes(limit));

    [Fact]
    public void IoBuffers_SetExplicitly_AreKept() =>
        Assert.Equal(65536, new MemoryOptions { IoBlockBytes = 65536 }.EffectiveIoBlockBytes(64L << 20));

    [Theory]
    [InlineData(64L << 20, 32 * 1024)]
    [InlineData(1L << 30, 512 * 1024)]
    [InlineData(24L << 30, 1024 * 1024)]
    [InlineData(4L << 20, 4 * 1024)]
    public void ReadAhead_ShrinksWithASmallLimit_ButNotBelowOneBuffer(long limit, long expected) =>
        Assert.Equal(expected, new MemoryOptions().EffectiveReadAheadBytes(limit));

    [Fact]
    public void PoolCeilings_AreAtMostASixteenthOfTheLimit()
    {
        Assert.Equal(4L << 20, MemoryOptions.EffectiveRetainedBytes(16L << 20, 64L << 20));
        Assert.Equal(16L << 20, MemoryOptions.EffectiveRetainedBytes(16L << 20, 24L << 30));
        Assert.Equal(-1, MemoryOptions.EffectiveRetainedBytes(-1, 64L << 20));
    }

    [Fact]
    public void ThrashClock_FiresAfterTheSpanOfWindowsMostlyInTheGc_AndAWindowOfWorkResetsIt()
    {
        var second = System.Diagnostics.Stopwatch.Frequency;
        var clock = new ThrashClock(exitSeconds: 5);
        Assert.Null(clock.Tick(0, TimeSpan.Zero));
        var paused = TimeSpan.Zero;
        for (var i = 1; i <= 4; i++)
        {
            paused += TimeSpan.FromMilliseconds(950);
            Assert.Null(clock.Tick(i * second, paused));
        }

        // A window with half its time in the GC: the count starts over.
        paused += TimeSpan.FromMilliseconds(500);
        Assert.Null(clock.Tick(5 * second, paused));
        for (var i = 6; i <= 9; i++)
        {
            paused += TimeSpan.FromMilliseconds(950);
            Assert.Null(clock.Tick(i * second, paused));
        }

        paused += TimeSpan.FromMilliseconds(950);
        Assert.Equal(5, clock.Tick(10 * second, paused)!.Value, precision: 3);
    }

    [Fact]
    public void ThrashClock_CountsALateTicksWindowFromItsStart_AndNeverFiresWhenOff()
    {
        var second = System.Diagnostics.Stopwatch.Frequency;
        var clock = new ThrashClock(exitSeconds: 30);
        Assert.Null(clock.Tick(0, TimeSpan.Zero));
        Assert.Equal(31, clock.Tick(31 * second, TimeSpan.FromSeconds(30))!.Value, precision: 3);

        var off = new ThrashClock(exitSeconds: 0);
        Assert.Null(off.Tick(0, TimeSpan.Zero));
        Assert.Null(off.Tick(60 * second, TimeSpan.FromSeconds(60)));
    }

    [Fact]
    public void IoBlockBytesZero_IsValid() => new MemoryOptions { IoBlockBytes = 0 }.Validate();
}
