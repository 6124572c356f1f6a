namespace Registry.Blob.Uploads;

/// <summary>
/// One lock per upload session (or per key of another kind: UploadManager also locks blob commits by
/// digest), created on first use and dropped when nobody holds or waits for it. Sessions never share a lock: an upload whose bytes stall (a slow client) must not hold up any other
/// upload, or its unread gRPC data would fill the shared HTTP/2 connection window and stall them all.
/// </summary>
internal sealed class SessionLocks
{
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>Sessions with a holder or a waiter (for tests and diagnostics).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>Waits for the session's lock.</summary>
    public async ValueTask<Holder> AcquireAsync(string sessionId, CancellationToken cancellationToken)
    {
        var entry = Join(sessionId);
        try
        {
            await entry.Gate.WaitAsync(cancellationToken);
        }
        catch
        {
            Leave(sessionId, entry);
            throw;
        }

        return new Holder(this, sessionId, entry);
    }

    /// <summary>
    /// Takes the session's lock if it comes free within <paramref name="wait"/>; null otherwise. For a
    /// holder that is quick (a cancel, a commit) rather than one writing a chunk at its sender's pace.
    /// </summary>
    public async ValueTask<Holder?> TryAcquireAsync(string sessionId, TimeSpan wait, CancellationToken cancellationToken)
    {
        var entry = Join(sessionId);
        bool taken;
        try
        {
            taken = await entry.Gate.WaitAsync(wait, cancellationToken);
        }
        catch
        {
            Leave(sessionId, entry);
            throw;
        }

        if (!taken)
        {
            Leave(sessionId, entry);
            return null;
        }

        return new Holder(this, sessionId, entry);
    }

    /// <summary>Takes the session's lock only if it is free at once.</summary>
    public bool TryAcquire(string sessionId, out Holder holder)
    {
        var entry = Join(sessionId);
        if (entry.Gate.Wait(0))
        {
            holder = new Holder(this, sessionId, entry);
            return true;
        }

        Leave(sessionId, entry);
        holder = default;
        return false;
    }

    private Entry Join(string sessionId)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(sessionId, out var entry))
            {
                entry = new Entry();
                _entries.Add(sessionId, entry);
            }

            entry.Users++;
            return entry;
        }
    }

    private void Leave(string sessionId, Entry entry)
    {
        lock (_lock)
        {
            if (--entry.Users == 0)
            {
                _entries.Remove(sessionId);
                entry.Gate.Dispose();
            }
        }
    }

    /// <summary>A held session lock; disposing releases it.</summary>
    public readonly struct Holder : IDisposable
    {
        private readonly SessionLocks? _owner;
        private readonly string _sessionId;
        private readonly Entry? _entry;

        internal Holder(SessionLocks owner, string sessionId, Entry entry)
        {
            _owner = owner;
            _sessionId = sessionId;
            _entry = entry;
        }

        public void Dispose()
        {
            if (_owner is null || _entry is null)
            {
                return;
            }

            _entry.Gate.Release();
            _owner.Leave(_sessionId, _entry);
        }
    }

    internal sealed class Entry
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public int Users { get; set; }
    }
}
