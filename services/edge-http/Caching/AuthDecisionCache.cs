using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Registry.EdgeHttp.Pipeline;
using Registry.Protos;

namespace Registry.EdgeHttp.Caching;

/// <summary>
/// Reuses auth decisions for the same Authorization header and scope for a short time, so a burst of
/// pulls costs one call to the auth service instead of one per request. Bounded: when full it starts over.
/// Requests that miss together share one call (<see cref="FetchOnceAsync"/>): a burst that arrives
/// after the entry expired would otherwise hold the auth stage with as many calls as requests, and
/// fill its queue.
/// </summary>
internal sealed class AuthDecisionCache
{
    private readonly ConcurrentDictionary<AuthDecisionKey, Entry> _entries = new();
    private readonly ConcurrentDictionary<AuthDecisionKey, Task<AuthorizeResponse>> _pending = new();
    private readonly TimeSpan _ttl;
    private readonly int _capacity;
    private readonly TimeProvider _time;

    public AuthDecisionCache(IOptions<EdgeOptions> options, TimeProvider time)
    {
        _ttl = options.Value.Cache.AuthDecisionTtl;
        _capacity = options.Value.Cache.AuthDecisionCapacity;
        _time = time;
    }

    /// <summary>
    /// The cache key of an Authorization header and the scope it asks for, or null when caching is off.
    /// Made on every request, so nothing is formatted or copied.
    /// </summary>
    public AuthDecisionKey? KeyFor(string authorization, ScopeDemand? scope) =>
        _ttl <= TimeSpan.Zero ? null : new AuthDecisionKey(authorization, scope);

    public bool TryGet(AuthDecisionKey key, out AuthorizeResponse response)
    {
        if (_entries.TryGetValue(key, out var entry) && entry.Expires > _time.GetTimestamp())
        {
            response = entry.Response;
            return true;
        }

        response = null!;
        return false;
    }

    public void Set(AuthDecisionKey key, AuthorizeResponse response)
    {
        if (_entries.Count >= _capacity)
        {
            _entries.Clear();
        }

        var expires = _time.GetTimestamp() + (long)(_ttl.TotalSeconds * _time.TimestampFrequency);
        _entries[key] = new Entry(response, expires);
    }

    /// <summary>
    /// The decision for <paramref name="key"/> from the call already asking for it, or from a new one made
    /// with <paramref name="fetch"/> (cached when it succeeds). The shared call is not cancelled by any one
    /// waiter: each stops waiting on its own token, and the call is bounded by its deadline.
    /// </summary>
    public Task<AuthorizeResponse> FetchOnceAsync(AuthDecisionKey key, Func<Task<AuthorizeResponse>> fetch)
    {
        if (_pending.TryGetValue(key, out var running))
        {
            return running;
        }

        var outcome = new TaskCompletionSource<AuthorizeResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_pending.TryAdd(key, outcome.Task))
        {
            return _pending.TryGetValue(key, out running) ? running : fetch();
        }

        _ = FetchAsync(key, fetch, outcome);
        return outcome.Task;
    }

    private async Task FetchAsync(AuthDecisionKey key, Func<Task<AuthorizeResponse>> fetch, TaskCompletionSource<AuthorizeResponse> outcome)
    {
        // The call leaves the pending set before its waiters are released, so no one who has seen its
        // outcome can be handed the same finished call again (a failure must not outlive its answer).
        var pending = new KeyValuePair<AuthDecisionKey, Task<AuthorizeResponse>>(key, outcome.Task);
        try
        {
            var response = await fetch();
            Set(key, response);
            _pending.TryRemove(pending);
            outcome.SetResult(response);
        }
        catch (Exception ex)
        {
            _pending.TryRemove(pending);
            outcome.SetException(ex);
        }
    }

    private sealed record Entry(AuthorizeResponse Response, long Expires);
}

/// <summary>What an auth decision depends on: the Authorization header as sent and the scope asked for.</summary>
internal readonly record struct AuthDecisionKey(string Authorization, ScopeDemand? Scope);
