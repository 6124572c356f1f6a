using Microsoft.Extensions.Options;
using Registry.EdgeHttp;
using Registry.EdgeHttp.Caching;
using Registry.EdgeHttp.Pipeline;
using Registry.Protos;

namespace Registry.UnitTests.EdgeHttp.Caching;

/// <summary>Requests that miss the auth cache together share one call to the auth service.</summary>
public sealed class AuthDecisionCacheTests
{
    private static readonly AuthDecisionKey Key = new("Bearer abc", ScopeDemand.Repository("team/app", ScopeActions.Pull));

    private readonly AuthDecisionCache _cache = new(Options.Create(new EdgeOptions()), TimeProvider.System);

    [Fact]
    public void Keys_OfEqualScopes_AreEqual_AndAnyFieldTellsThemApart()
    {
        // The name comes from each request's own parse: an equal string, not the same instance.
        var key = _cache.KeyFor("Bearer abc", ScopeDemand.Repository(new string("team/app".AsSpan()), ScopeActions.Pull))!.Value;
        _cache.Set(key, new AuthorizeResponse { Allowed = true });

        Assert.True(_cache.TryGet(_cache.KeyFor("Bearer abc", ScopeDemand.Repository("team/app", ScopeActions.Pull))!.Value, out var cached) && cached.Allowed);
        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abd", ScopeDemand.Repository("team/app", ScopeActions.Pull))!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abc", ScopeDemand.Repository("team/other", ScopeActions.Pull))!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abc", ScopeDemand.Repository("team/app", ScopeActions.PullPush))!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abc", ScopeDemand.Repository("team/app", ScopeActions.Delete))!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abc", ScopeDemand.Catalog)!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor("Bearer abc", null)!.Value, out _));
        Assert.False(_cache.TryGet(_cache.KeyFor(string.Empty, ScopeDemand.Repository("team/app", ScopeActions.Pull))!.Value, out _));
    }

    [Fact]
    public void ScopeDemands_BecomeTheAuthServicesScopes()
    {
        var push = ScopeDemand.Repository("team/app", ScopeActions.PullPush).ToProto();
        Assert.Equal(new Scope { Type = "repository", Name = "team/app", Actions = { "pull", "push" } }, push);
        Assert.Equal(new Scope { Type = "registry", Name = "catalog", Actions = { "*" } }, ScopeDemand.Catalog.ToProto());
        Assert.Equal(new Scope { Type = "repository", Name = "a", Actions = { "delete" } }, ScopeDemand.Repository("a", ScopeActions.Delete).ToProto());
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
