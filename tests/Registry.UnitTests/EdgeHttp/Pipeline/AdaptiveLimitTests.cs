using Registry.EdgeHttp.Pipeline;

namespace Registry.UnitTests.EdgeHttp.Pipeline;

public sealed class AdaptiveLimitTests
{
    [Fact]
    public void Pressure_OnABusyStage_HalvesTheLimit_DownToTheFloor()
    {
        var limit = new AdaptiveLimit(capacity: 64, floor: 8);
        Assert.Equal(64, limit.Current);
        Assert.False(limit.Reduced);

        limit.Observe(pressured: true, inUse: 64);
        Assert.Equal(32, limit.Current);
        Assert.True(limit.Reduced);
        limit.Observe(pressured: true, inUse: 32);
        Assert.Equal(16, limit.Current);
        limit.Observe(pressured: true, inUse: 16);
        Assert.Equal(8, limit.Current);
        limit.Observe(pressured: true, inUse: 64);
        Assert.Equal(8, limit.Current);
    }

    [Fact]
    public void Pressure_FromTheDefaultCapacity_ReachesTheFloorInSixChecks()
    {
        // 512 places on two cores, floor 8: six checks of 25 ms while the stage stays full.
        var limit = new AdaptiveLimit(capacity: 512, floor: 8);
        var seen = new List<int>();
        for (var i = 0; i < 6; i++)
        {
            limit.Observe(pressured: true, inUse: 512);
            seen.Add(limit.Current);
        }

        Assert.Equal([256, 128, 64, 32, 16, 8], seen);
    }

    [Fact]
    public void Pressure_WhileTheStageIsMostlyIdle_LeavesTheLimit()
    {
        var limit = new AdaptiveLimit(capacity: 64, floor: 8);
        limit.Observe(pressured: true, inUse: 31);
        Assert.Equal(64, limit.Current);
    }

    [Fact]
    public void Calm_RestoresTheCapacityStepByStep()
    {
        // 512 is the default on two cores; a step is a 256th of it.
        var limit = new AdaptiveLimit(capacity: 512, floor: 8);
        for (var i = 0; i < 30; i++)
        {
            limit.Observe(pressured: true, inUse: 512);
        }

        Assert.Equal(8, limit.Current);
        limit.Observe(pressured: false, inUse: 0);
        Assert.Equal(10, limit.Current);
        for (var i = 0; i < 250; i++)
        {
            limit.Observe(pressured: false, inUse: 0);
        }

        Assert.Equal(510, limit.Current);
        limit.Observe(pressured: false, inUse: 0);
        Assert.Equal(512, limit.Current);
        Assert.False(limit.Reduced);
    }
}
