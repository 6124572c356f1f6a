using Microsoft.Extensions.Options;
using Registry.EdgeHttp;
using Registry.EdgeHttp.Caching;
using Registry.Protos;

namespace Registry.UnitTests.EdgeHttp.Caching;

/// <summary>Requests that miss the auth cache together share one call to the auth service.</summary>
public sealed class AuthDecisionCacheTests
{
    private static readonly AuthDecisionKey Key = new("Bearer abc", new Scope { Type = "repository", Name = "team/app", Actions = { "pull" } });

    private readonly AuthDecisionCache _cache = new(Options.Create(new EdgeOptions()), TimeProvider.System);

    [Fact]
    public void Keys_OfEqualScopes_AreEqual_AndAnyFieldTellsThemApart()
    {
        static Scope Make(string type = "repository", string name = "team/app", params string[] actions)
        {
            var scope = new Scope { Type = type, Name = name };
            scope.Actions.AddRange(actions.Length == 0 ? ["pull"] : actions);
            return scope;
        }

        var key = _cache.KeyFor("Bearer abc", Make())!.Value;
        _cache.Set(key, new AuthorizeResponse { Allowed = true });

        // A scope made again for the next request finds the decision.
        Assert.True(_cache.TryGet(_cache.KeyFor("Bearer abc", Make())!.Value, out var cached) && cached.Allowed);
        Assert.Equal(key, _cache.KeyFor(new AuthorizeRequest { Authorization = "Bearer abc", Scopes = { Make() } }));

        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abd", Make())!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abc", Make(type: "registry"))!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abc", Make(name: "team/other"))!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abc", Make(actions: ["pull", "push"]))!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abc", Make(actions: ["push"]))!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abc", null)!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor(string.Empty, Make())!.Value, out _));
    }

    [Fact]
    public void KeyFor_WithCachingOff_IsNull()
    {
        var off = new AuthDecisionCache(Options.Create(new EdgeOptions { Cache = { AuthDecisionTtl = TimeSpan.Zero } }), TimeProvider.System);
        Assert.Null(off.KeyFor("Bearer abc", null));
    }

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

        var waiting = Enumerable.Range(0, 100).Select(_ => _cache.FetchOnceAsync(Key, Fetch)).ToArray();
        Assert.All(waiting, task => Assert.False(task.IsCompleted));

        release.SetResult(new AuthorizeResponse { Allowed = true });
        var answers = await Task.WhenAll(waiting);

        Assert.Equal(1, calls);
        Assert.All(answers, answer => Assert.True(answer.Allowed));
        Assert.True(_cache.TryGet(Key, out var cached) && cached.Allowed);
    }

    [Fact]
    public async Task FetchOnce_SharedCallFails_EveryWaiterSeesIt_AndTheNextMissCallsAgain()
    {
        var calls = 0;
        var failure = new TaskCompletionSource<AuthorizeResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = _cache.FetchOnceAsync(Key, () => { Interlocked.Increment(ref calls); return failure.Task; });
        var second = _cache.FetchOnceAsync(Key, () => { Interlocked.Increment(ref calls); return failure.Task; });
        failure.SetException(new InvalidOperationException("auth service down"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => first);
        await Assert.ThrowsAsync<InvalidOperationException>(() => second);
        Assert.False(_cache.TryGet(Key, out _));

        var again = await _cache.FetchOnceAsync(Key, () => { Interlocked.Increment(ref calls); return Task.FromResult(new AuthorizeResponse { Allowed = true }); });
        Assert.True(again.Allowed);
        Assert.Equal(2, calls);
    }
}
