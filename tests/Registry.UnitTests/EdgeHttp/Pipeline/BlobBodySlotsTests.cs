using Registry.EdgeHttp.Pipeline;

namespace Registry.UnitTests.EdgeHttp.Pipeline;

public sealed class BlobBodySlotsTests
{
    [Theory]
    [InlineData(64L << 20, 32)]
    [InlineData(128L << 20, 64)]
    [InlineData(24L << 30, 12288)]
    [InlineData(8L << 20, 8)]
    public void Slots_AreAQuarterOfTheLimitOverWhatOneBodyHolds(long limit, int expected) =>
        Assert.Equal(expected, BlobBodySlots.SlotsFor(limit));

    [Fact]
    public async Task ABodyPastTheSlots_WaitsForOne_AndGetsItWhenOneIsGivenBack()
    {
        var slots = new BlobBodySlots(1, TimeSpan.FromSeconds(30), Timeout.InfiniteTimeSpan);
        var first = Body();
        Assert.True(await slots.EnterAsync(first, CancellationToken.None));
        var waiting = slots.EnterAsync(Body(), CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        slots.Exit(first);
        Assert.True(await waiting);
        Assert.Equal(1, slots.InUse);
    }

    [Fact]
    public async Task ABodyThatFindsNoSlotInTime_IsRefused()
    {
        var slots = new BlobBodySlots(1, TimeSpan.FromMilliseconds(100), Timeout.InfiniteTimeSpan);
        Assert.True(await slots.EnterAsync(Body(), CancellationToken.None));
        Assert.False(await slots.EnterAsync(Body(), CancellationToken.None));
        Assert.Equal(1, slots.InUse);
    }

    [Fact]
    public async Task AClientThatLeavesWhileWaiting_TakesNoSlot()
    {
        var slots = new BlobBodySlots(1, TimeSpan.FromSeconds(30), Timeout.InfiniteTimeSpan);
        var first = Body();
        Assert.True(await slots.EnterAsync(first, CancellationToken.None));
        using var gone = new CancellationTokenSource();
        var waiting = slots.EnterAsync(Body(), gone.Token).AsTask();
        await gone.CancelAsync();
        Assert.False(await waiting);

        slots.Exit(first);
        Assert.Equal(0, slots.InUse);
    }

    [Fact]
    public async Task ABodyWaitingForASlot_CutsTheReaderWhoseWriteWaitedLongest_IfPastTheCutOff()
    {
        var slots = new BlobBodySlots(3, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));
        var (reading, slow, slower) = (Body(), Body(), Body());
        foreach (var body in new[] { reading, slower, slow })
        {
            Assert.True(await slots.EnterAsync(body, CancellationToken.None));
        }

        // One reader keeps up (no write waiting), two are stuck in a write, the older one longest.
        slower.Arm();
        await Task.Delay(100);
        slow.Arm();

        // Not yet past the cut-off: nothing is cut and the newcomer waits.
        var early = slots.EnterAsync(Body(), CancellationToken.None).AsTask();
        await Task.Delay(20);
        Assert.False(early.IsCompleted);
        Assert.False(slower.Fired || slow.Fired);

        await Task.Delay(1200);
        var late = slots.EnterAsync(Body(), CancellationToken.None).AsTask();
        await WaitUntilAsync(() => slower.Fired);
        Assert.True(slower.CutForRoom);
        Assert.False(slow.Fired || reading.Fired);

        // The cut body's handler unwinds and gives its slot back: one of the waiting bodies takes it.
        slots.Exit(slower);
        await Task.WhenAny(early, late).WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(3, slots.InUse);
    }

    [Fact]
    public void AWriteThatMovedOn_IsNotCut()
    {
        using var body = Body();
        body.Arm();
        var since = body.WaitingSince;
        body.Disarm();
        Assert.False(body.TryCut(since, TimeSpan.FromSeconds(1)));
        Assert.False(body.Fired);
    }

    [Fact]
    public async Task AReaderThatKeepsUp_IsNotCut_OneThatFallsBehindIs()
    {
        long acknowledged = 0;
        using var body = new WriteStall(TimeSpan.FromMinutes(10), CancellationToken.None, () => Interlocked.Read(ref acknowledged));
        body.Arm();
        await Task.Delay(WriteStall.BaselineDelay * 3);
        var since = body.WaitingSince;
        await Task.Delay(300);

        // 256 KiB per 200 ms owed over some 300 ms, about 384 KiB; 64 MiB came.
        Interlocked.Add(ref acknowledged, 64 * 1024 * 1024);
        Assert.False(body.TryCut(since, TimeSpan.FromMilliseconds(200)));
        Assert.True(body.WaitingSince > since);

        // Then 10 KiB in the next 300 ms: too slow.
        since = body.WaitingSince;
        await Task.Delay(300);
        Interlocked.Add(ref acknowledged, 10 * 1024);
        Assert.True(body.TryCut(since, TimeSpan.FromMilliseconds(200)));
        await WaitUntilAsync(() => body.Fired);
        Assert.True(body.Fired && body.CutForRoom);
    }

    [Fact]
    public async Task AStalledWrite_IsCutAfterTheTimeout_UnlessTheClientAcknowledgedBytesMeanwhile()
    {
        long acknowledged = 0;
        using var reading = new WriteStall(TimeSpan.FromSeconds(1), CancellationToken.None, () => Interlocked.Read(ref acknowledged));
        using var stopped = new WriteStall(TimeSpan.FromSeconds(1), CancellationToken.None, static () => 5000);
        reading.Arm();
        stopped.Arm();
        for (var i = 0; i < 35; i++)
        {
            await Task.Delay(100);
            Interlocked.Add(ref acknowledged, 1000);
        }

        // The write stayed pending for 3.5 s, three timeouts and more, but its client kept reading: it is not cut.
        Assert.False(reading.Fired);
        Assert.True(stopped.Fired);
        Assert.False(stopped.CutForRoom);
    }

    private static WriteStall Body() => new(TimeSpan.FromMinutes(10), CancellationToken.None);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var i = 0; i < 200 && !condition(); i++)
        {
            await Task.Delay(25);
        }
    }
}
