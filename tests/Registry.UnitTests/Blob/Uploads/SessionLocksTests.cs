using Registry.Blob.Uploads;

namespace Registry.UnitTests.Blob.Uploads;

public sealed class SessionLocksTests
{
    [Fact]
    public async Task ABriefWait_GetsTheLockWhenItsHolderLetsGo_AndGivesUpOtherwise()
    {
        var locks = new SessionLocks();
        Assert.True(locks.TryAcquire("s1", out var first));

        // Held, and not let go within the wait: nothing, and nothing left behind.
        Assert.Null(await locks.TryAcquireAsync("s1", TimeSpan.FromMilliseconds(10), CancellationToken.None));
        Assert.Equal(1, locks.Count);

        // Let go while another waits: the waiter has it, and a third caller does not.
        var waiting = locks.TryAcquireAsync("s1", TimeSpan.FromSeconds(30), CancellationToken.None).AsTask();
        Assert.False(waiting.IsCompleted);
        first.Dispose();
        var second = await waiting.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotNull(second);
        Assert.False(locks.TryAcquire("s1", out _));
        second.Value.Dispose();

        // Once free, the session's entry is gone.
        Assert.True(locks.TryAcquire("s1", out var third));
        third.Dispose();
        Assert.Equal(0, locks.Count);
    }
}
