using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Registry.EdgeHttp.Clients;
using Registry.Hosting.Grpc;
using Registry.Protos;

namespace Registry.EdgeHttp.Caching;

/// <summary>
/// Reads manifests through the manifest service, sending the digest whose bytes the edge holds so the
/// service can leave them out, and letting identical reads in flight at the same moment share one call.
/// A shared call is not cancelled when one of its waiters leaves (others may still need it); its
/// deadline bounds it. Writes through this edge forget the repository's hints and in-flight reads, so a
/// client reads its own writes.
/// </summary>
internal sealed class ManifestReader
{
    private readonly ConcurrentDictionary<ReadKey, Task<ManifestReply>> _inFlight = new();
    private readonly ServiceClients _clients;
    private readonly ManifestCache _cache;
    private readonly bool _coalesce;

    public ManifestReader(ServiceClients clients, ManifestCache cache, IOptions<EdgeOptions> options)
    {
        _clients = clients;
        _cache = cache;
        _coalesce = options.Value.Cache.CoalesceManifestReads;
    }

    /// <summary>Resolves a reference to its digest, media type, size and (unless <paramref name="metadataOnly"/>) its bytes.</summary>
    public async Task<ResolvedManifest> ReadAsync(string repository, string reference, bool metadataOnly, CancellationToken cancellationToken)
    {
        var isDigest = reference.Contains(':', StringComparison.Ordinal);
        var key = new ReadKey(repository, reference, metadataOnly);
        var reply = await ReadSharedAsync(key, isDigest, cancellationToken);
        if (metadataOnly)
        {
            return new ResolvedManifest(reply.Digest, reply.MediaType, reply.Size, ReadOnlyMemory<byte>.Empty);
        }

        if (!reply.ContentOmitted)
        {
            _cache.Remember(repository, reference, isDigest, reply.Digest, reply.MediaType, reply.Content.Memory);
            return new ResolvedManifest(reply.Digest, reply.MediaType, reply.Size, reply.Content.Memory);
        }

        if (_cache.TryGetContent(reply.Digest, out var cached))
        {
            return new ResolvedManifest(reply.Digest, cached.MediaType, cached.Content.Length, cached.Content) { ETag = cached.ETag };
        }

        // Evicted between the hint and the answer: ask again, for the bytes this time.
        var full = await CallAsync(key, knownDigest: string.Empty, cancellationToken);
        return new ResolvedManifest(full.Digest, full.MediaType, full.Size, full.Content.Memory);
    }

    /// <summary>Forgets what this edge knows of a repository's tags, after a write through it.</summary>
    public void ForgetRepository(string repository)
    {
        _cache.ForgetRepository(repository);
        foreach (var key in _inFlight.Keys)
        {
            if (string.Equals(key.Repository, repository, StringComparison.Ordinal))
            {
                _inFlight.TryRemove(key, out _);
            }
        }
    }

    private Task<ManifestReply> ReadSharedAsync(ReadKey key, bool isDigest, CancellationToken cancellationToken)
    {
        var knownDigest = key.MetadataOnly ? string.Empty : _cache.HintFor(key.Repository, key.Reference, isDigest);
        if (!_coalesce)
        {
            return CallAsync(key, knownDigest, cancellationToken);
        }

        if (_inFlight.TryGetValue(key, out var running))
        {
            // The common case under load: another request's call is under way.
            return running.WaitAsync(cancellationToken);
        }

        var mine = new TaskCompletionSource<ManifestReply>(TaskCreationOptions.RunContinuationsAsynchronously);
        var shared = _inFlight.GetOrAdd(key, mine.Task);
        if (ReferenceEquals(shared, mine.Task))
        {
            _ = RunSharedCallAsync(key, knownDigest, mine);
        }

        return shared.WaitAsync(cancellationToken);
    }

    private async Task RunSharedCallAsync(ReadKey key, string knownDigest, TaskCompletionSource<ManifestReply> completion)
    {
        try
        {
            completion.TrySetResult(await CallAsync(key, knownDigest, CancellationToken.None));
        }
        catch (Exception ex)
        {
            completion.TrySetException(ex);
        }
        finally
        {
            _inFlight.TryRemove(KeyValuePair.Create(key, completion.Task));
        }
    }

    private async Task<ManifestReply> CallAsync(ReadKey key, string knownDigest, CancellationToken cancellationToken)
    {
        var request = new GetManifestRequest
        {
            Repository = key.Repository,
            Reference = key.Reference,
            MetadataOnly = key.MetadataOnly,
            KnownDigest = knownDigest,
        };
        try
        {
            return await _clients.Manifests.GetManifestAsync(request, _clients.Unary(cancellationToken));
        }
        catch (RpcException ex)
        {
            throw OciStatus.ToOciException(ex);
        }
    }

    private readonly record struct ReadKey(string Repository, string Reference, bool MetadataOnly);
}

/// <summary>A manifest as the edge serves it.</summary>
internal readonly record struct ResolvedManifest(string Digest, string MediaType, long Size, ReadOnlyMemory<byte> Content)
{
    /// <summary>The ETag header value; made from the digest when the cache had none at hand.</summary>
    public string ETag { get => field ?? ManifestCache.QuotedETag(Digest); init; }
}
