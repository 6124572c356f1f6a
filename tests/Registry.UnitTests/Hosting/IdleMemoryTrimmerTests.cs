using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Registry.Hosting.Memory;

namespace Registry.UnitTests.Hosting;

public sealed class IdleMemoryTrimmerTests
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public void IdleAfterGrowth_CollectsOnce_ThenStaysQuiet()
    {
        var runtime = new FakeRuntime { Committed = 20 * MiB };
        var trimmer = runtime.CreateTrimmer();

        // A burst: 50 MiB allocated per 2-second check, the committed heap grows to 100 MiB.
        for (var i = 0; i < 5; i++)
        {
            runtime.Busy(50 * MiB);
            runtime.Committed += 16 * MiB;
            Assert.False(trimmer.CheckOnce());
        }

        // Idle: a scrape's worth of allocation per check. The first idle check only counts.
        runtime.Busy(100 * 1024);
        Assert.False(trimmer.CheckOnce());
        runtime.Busy(100 * 1024);
        Assert.True(trimmer.CheckOnce());
        Assert.Equal(1, runtime.Collections);

        // Still idle, nothing grew since: no second collection.
        for (var i = 0; i < 10; i++)
        {
            runtime.Busy(100 * 1024);
            Assert.False(trimmer.CheckOnce());
        }

        Assert.Equal(1, runtime.Collections);
    }

    [Fact]
    public void IdleWithoutGrowth_NeverCollects()
    {
        var runtime = new FakeRuntime { Committed = 40 * MiB };
        var trimmer = runtime.CreateTrimmer();
        runtime.Committed += 8 * MiB;
        for (var i = 0; i < 20; i++)
        {
            runtime.Busy(10 * 1024);
            Assert.False(trimmer.CheckOnce());
        }

        Assert.Equal(0, runtime.Collections);
    }

    [Fact]
    public void WorkBetweenIdleChecks_StartsTheCountAgain()
    {
        var runtime = new FakeRuntime { Committed = 20 * MiB };
        var trimmer = runtime.CreateTrimmer();
        runtime.Committed = 200 * MiB;
        for (var i = 0; i < 10; i++)
        {
            runtime.Busy(10 * 1024);
            Assert.False(trimmer.CheckOnce());
            runtime.Busy(20 * MiB);
            Assert.False(trimmer.CheckOnce());
        }

        Assert.Equal(0, runtime.Collections);
    }

    [Fact]
    public void AllocationNoCollectionHasSeen_IsTrimmedOnceIdle()
    {
        // A burst that stayed under a large gen0 budget: 30 MiB of garbage, no collection, so the
        // committed heap the GC reports has not moved.
        var runtime = new FakeRuntime { Committed = 20 * MiB };
        var trimmer = runtime.CreateTrimmer();
        runtime.Busy(30 * MiB);
        Assert.False(trimmer.CheckOnce());
        runtime.Busy(10 * 1024);
        Assert.False(trimmer.CheckOnce());
        runtime.Busy(10 * 1024);
        Assert.True(trimmer.CheckOnce());

        for (var i = 0; i < 10; i++)
        {
            runtime.Busy(10 * 1024);
            Assert.False(trimmer.CheckOnce());
        }

        Assert.Equal(1, runtime.Collections);
    }

    [Fact]
    public void LightSteadyTraffic_WithoutACollection_IsNotTrimmed()
    {
        // Half a MiB per second, under the idle rate, for five minutes: 150 MiB and no collection (a large
        // gen0 budget), but never a busy spell, so nothing to trim.
        var runtime = new FakeRuntime { Committed = 20 * MiB };
        var trimmer = runtime.CreateTrimmer();
        for (var i = 0; i < 150; i++)
        {
            runtime.Busy(MiB);
            Assert.False(trimmer.CheckOnce());
        }

        Assert.Equal(0, runtime.Collections);
    }

    [Fact]
    public void AllocationTheRuntimeCollected_IsNotTrimmedAgain()
    {
        var runtime = new FakeRuntime { Committed = 20 * MiB };
        var trimmer = runtime.CreateTrimmer();
        runtime.Busy(30 * MiB);
        runtime.GcCount++;
        for (var i = 0; i < 10; i++)
        {
            runtime.Busy(10 * 1024);
            Assert.False(trimmer.CheckOnce());
        }

        Assert.Equal(0, runtime.Collections);
    }

    [Fact]
    public void HeapThatShrankByItself_CountsGrowthFromThere()
    {
        var runtime = new FakeRuntime { Committed = 100 * MiB };
        var trimmer = runtime.CreateTrimmer();

        // The GC gave memory back on its own (idle, 60 MiB), then a burst took it to 90 MiB: 30 MiB of
        // growth since the low point is worth a trim although the heap is below where it started.
        runtime.Committed = 60 * MiB;
        runtime.Busy(10 * 1024);
        Assert.False(trimmer.CheckOnce());
        runtime.Busy(50 * MiB);
        runtime.Committed = 90 * MiB;
        Assert.False(trimmer.CheckOnce());
        runtime.Busy(10 * 1024);
        Assert.False(trimmer.CheckOnce());
        runtime.Busy(10 * 1024);
        Assert.True(trimmer.CheckOnce());
    }

    private sealed class FakeRuntime
    {
        private readonly StepClock _clock = new();

        public long Allocated { get; private set; }

        public long Committed { get; set; }

        public int Collections { get; private set; }

        // Every collection the runtime made: its own and the trims.
        public int GcCount { get; set; }

        // Two seconds pass and the process allocates this much in them.
        public void Busy(long bytes)
        {
            Allocated += bytes;
            _clock.Advance(TimeSpan.FromSeconds(2));
        }

        public IdleMemoryTrimmer CreateTrimmer() => new(
            Options.Create(new MemoryOptions()),
            _clock,
            NullLogger<IdleMemoryTrimmer>.Instance,
            () => Allocated,
            () => Committed,
            () => GcCount,
            () =>
            {
                Collections++;
                GcCount++;
                Committed = 10 * MiB;
            });
    }

    private sealed class StepClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}
