using System.Security.Cryptography;
using Registry.Oci.Digests;

namespace Registry.Blob.Uploads;

/// <summary>
/// Running hashes of open upload sessions, so completing an upload need not read its bytes back.
/// Bounded: when full, new sessions go without and their digest is computed from storage at commit.
/// A hash is trusted only when it has seen exactly the session's acknowledged bytes.
/// Callers hold the session's lock while they use its entry.
/// </summary>
internal sealed class UploadHashCache
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly int _capacity;
    private readonly Lock _lock = new();

    public UploadHashCache(int capacity)
    {
        _capacity = capacity;
    }

    /// <summary>Takes the session's hash out of the cache if it covers exactly <paramref name="size"/> bytes.</summary>
    public IncrementalHash? Take(string uploadId, DigestAlgorithm algorithm, long size)
    {
        lock (_lock)
        {
            if (!_entries.Remove(uploadId, out var entry))
            {
                return null;
            }

            if (entry.Size == size && entry.Algorithm == algorithm)
            {
                return entry.Hash;
            }

            entry.Hash.Dispose();
            return null;
        }
    }

    /// <summary>Puts a session's hash back after an acknowledged append; disposes it when the cache is full.</summary>
    public void Put(string uploadId, DigestAlgorithm algorithm, long size, IncrementalHash hash)
    {
        lock (_lock)
        {
            if (_entries.Count >= _capacity && !_entries.ContainsKey(uploadId))
            {
                hash.Dispose();
                return;
            }

            _entries[uploadId] = new Entry(algorithm, size, hash);
        }
    }

    /// <summary>Drops a session's hash.</summary>
    public void Remove(string uploadId)
    {
        lock (_lock)
        {
            if (_entries.Remove(uploadId, out var entry))
            {
                entry.Hash.Dispose();
            }
        }
    }

    private sealed record Entry(DigestAlgorithm Algorithm, long Size, IncrementalHash Hash);
}
