using System.Collections.Concurrent;

namespace Registry.EdgeHttp.Caching;

/// <summary>
/// Upload sessions this edge started, with the folder the blob service named for their chunk files
/// (StartUpload's staging folder): a PATCH or PUT that finds its session here writes its chunk file
/// straight away instead of first asking the blob service where (one gRPC call fewer per chunk). A
/// session started elsewhere, or forgotten, takes the asking path. Bounded: when full it starts over.
/// </summary>
internal sealed class StagingFolderCache
{
    private const int MaxEntries = 16_384;

    private readonly ConcurrentDictionary<string, Entry> _folders = new(StringComparer.Ordinal);
    private int _count;

    /// <summary>Remembers the staging folder of a session this edge started (an empty folder is not kept).</summary>
    public void Remember(string repository, string uploadId, string folder)
    {
        if (folder.Length == 0)
        {
            return;
        }

        if (Interlocked.Increment(ref _count) > MaxEntries)
        {
            // Mostly sessions their clients abandoned; the few live ones fall back to asking.
            _folders.Clear();
            Volatile.Write(ref _count, 1);
        }

        _folders[uploadId] = new Entry(repository, folder, 0);
    }

    /// <summary>
    /// The session's staging folder and the size it had after this edge's last append to it, or null when
    /// unknown here (or the repository differs). The size may be stale (another edge appended); the
    /// blob service checks again.
    /// </summary>
    public (string Folder, long Size)? Find(string repository, string uploadId) =>
        _folders.TryGetValue(uploadId, out var entry) && string.Equals(entry.Repository, repository, StringComparison.Ordinal)
            ? (entry.Folder, entry.Size)
            : null;

    /// <summary>Notes the session's size after an append through this edge.</summary>
    public void UpdateSize(string uploadId, long size)
    {
        if (_folders.TryGetValue(uploadId, out var entry))
        {
            _folders.TryUpdate(uploadId, entry with { Size = size }, entry);
        }
    }

    /// <summary>Forgets a session (completed, refused or gone).</summary>
    public void Forget(string uploadId)
    {
        if (_folders.TryRemove(uploadId, out _))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    private sealed record Entry(string Repository, string Folder, long Size);
}
