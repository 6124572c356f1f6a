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
        var slots = new BlobBodySlots(1, TimeSpan.FromSeconds(30));
        Assert.True(await slots.EnterAsync(CancellationToken.None));
        var waiting = slots.EnterAsync(CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);

        slots.Exit();
        Assert.True(await waiting);
        Assert.Equal(1, slots.InUse);
    }

    [Fact]
    public async Task ABodyThatFindsNoSlotInTime_IsRefused()
    {
        var slots = new BlobBodySlots(1, TimeSpan.FromMilliseconds(100));
        Assert.True(await slots.EnterAsync(CancellationToken.None));
        Assert.False(await slots.EnterAsync(CancellationToken.None));
        Assert.Equal(1, slots.InUse);
    }

    [Fact]
    public async Task AClientThatLeavesWhileWaiting_TakesNoSlot()
    {
        var slots = new BlobBodySlots(1, TimeSpan.FromSeconds(30));
        Assert.True(await slots.EnterAsync(CancellationToken.None));
        using var gone = new CancellationTokenSource();
        var waiting = slots.EnterAsync(gone.Token).AsTask();
        await gone.CancelAsync();
        Assert.False(await waiting);

        slots.Exit();
        Assert.Equal(0, slots.InUse);
    }
}
