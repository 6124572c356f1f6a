using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Registry.EdgeHttp.Caching;

/// <summary>
/// Manifest content by digest, bounded by bytes and evicted oldest first, plus the last digest each
/// tag resolved to (a hint sent as known_digest, so the manifest service can leave the bytes out).
/// Content addressed by digest never changes, so nothing here can serve a wrong answer: the manifest
/// service still decides on every request what the reference resolves to.
/// </summary>
internal sealed class ManifestCache
{
    private const int MaxHints = 100_000;

    private readonly ConcurrentDictionary<string, CachedManifest> _content = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();
    private readonly ConcurrentDictionary<(string Repository, string Tag), string> _hints = new();
    private readonly long _budget;
    private long _bytes;

    public ManifestCache(IOptions<EdgeOptions> options)
    {
        _budget = options.Value.Cache.ManifestContentBytes;
    }

    /// <summary>The cached content of a digest.</summary>
    public bool TryGetContent(string digest, out CachedManifest manifest) => _content.TryGetValue(digest, out manifest!);

    /// <summary>The digest a tag resolved to last time, if its content is still cached.</summary>
    public string HintFor(string repository, string reference, bool isDigest)
    {
        if (isDigest)
        {
            return _content.ContainsKey(reference) ? reference : string.Empty;
        }

        return _hints.TryGetValue((repository, reference), out var digest) && _content.ContainsKey(digest) ? digest : string.Empty;
    }

    /// <summary>Remembers what a reference resolved to and, when given, the content.</summary>
    public void Remember(string repository, string reference, bool isDigest, string digest, string mediaType, ReadOnlyMemory<byte> content)
    {
        if (_budget <= 0)
        {
            return;
        }

        if (!isDigest)
        {
            if (_hints.Count >= MaxHints)
            {
                _hints.Clear();
            }

            _hints[(repository, reference)] = digest;
        }

        if (content.IsEmpty || content.Length > _budget || _content.ContainsKey(digest))
        {
            return;
        }

        if (_content.TryAdd(digest, new CachedManifest(mediaType, content.ToArray(), QuotedETag(digest))))
        {
            _order.Enqueue(digest);
            var total = Interlocked.Add(ref _bytes, content.Length);
            while (total > _budget && _order.TryDequeue(out var oldest))
            {
                if (_content.TryRemove(oldest, out var evicted))
                {
                    total = Interlocked.Add(ref _bytes, -evicted.Content.Length);
                }
            }
        }
    }

    /// <summary>The ETag header value of a manifest: its digest, quoted.</summary>
    public static string QuotedETag(string digest) => string.Concat("\"", digest, "\"");

    /// <summary>Forgets the tag hints of a repository (after a write through this edge).</summary>
    public void ForgetRepository(string repository)
    {
        foreach (var key in _hints.Keys)
        {
            if (string.Equals(key.Repository, repository, StringComparison.Ordinal))
            {
                _hints.TryRemove(key, out _);
            }
        }
    }
}

/// <summary>A cached manifest: its media type, exact bytes and ETag (made once, not per request).</summary>
internal sealed record CachedManifest(string MediaType, byte[] Content, string ETag);
