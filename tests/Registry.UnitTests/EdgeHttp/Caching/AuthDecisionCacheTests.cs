using Microsoft.Extensions.Options;
using Registry.EdgeHttp;
using Registry.EdgeHttp.Caching;
using Registry.Protos;

namespace Registry.UnitTests.EdgeHttp.Caching;

/// <summary>Requests that miss the auth cache together share one call to the auth service.</summary>
public sealed class AuthDecisionCacheTests
{
    private readonly AuthDecisionCache _cache = new(Options.Create(new EdgeOptions()), TimeProvider.System);

    [Fact]
    public async Task FetchOnce_ConcurrentMisses_ShareOneCall_ThenTheDecisionIsCached()
    {
        var calls = 0;
        var release = new TaskCompletionSource<AuthorizeResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<AuthorizeResponse> Fetch()
        {
            Interlocked.Increment(ref calls);
            return release.Task;
        }

        var waiting = Enumerable.Range(0, 100).Select(_ => _cache.FetchOnceAsync("k", Fetch)).ToArray();
        Assert.All(waiting, task => Assert.False(task.IsCompleted));

        release.SetResult(new AuthorizeResponse { Allowed = true });
        var answers = await Task.WhenAll(waiting);

        Assert.Equal(1, calls);
        Assert.All(answers, answer => Assert.True(answer.Allowed));
        Assert.True(_cache.TryGet("k", out var cached) && cached.Allowed);
    }

    [Fact]
    public async Task FetchOnce_SharedCallFails_EveryWaiterSeesIt_AndTheNextMissCallsAgain()
    {
        var calls = 0;
        var failure = new TaskCompletionSource<AuthorizeResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = _cache.FetchOnceAsync("k", () => { Interlocked.Increment(ref calls); return failure.Task; });
        var second = _cache.FetchOnceAsync("k", () => { Interlocked.Increment(ref calls); return failure.Task; });
        failure.SetException(new InvalidOperationException("auth service down"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => first);
        await Assert.ThrowsAsync<InvalidOperationException>(() => second);
        Assert.False(_cache.TryGet("k", out _));

        var again = await _cache.FetchOnceAsync("k", () => { Interlocked.Increment(ref calls); return Task.FromResult(new AuthorizeResponse { Allowed = true }); });
        Assert.True(again.Allowed);
        Assert.Equal(2, calls);
    }
}
