namespace Registry.EdgeHttp.Http;

/// <summary>
/// The order in which new connections at the connection bound may evict an idle one: the newcomer whose client
/// address holds the fewest places goes first, then the one that came first. At most <see cref="Capacity"/> wait
/// at once; a full queue makes room for a lighter or earlier newcomer by dropping its last one.
/// </summary>
internal sealed class NewcomerQueue(int capacity)
{
    /// <summary>A ticket for a newcomer that found the queue full of lighter or earlier ones.</summary>
    public const long Refused = -1;

    private readonly SortedSet<long> _waiting = new();
    private long _arrivals;

    /// <summary>Newcomers that may wait at once.</summary>
    public int Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity));

    /// <summary>Newcomers waiting now.</summary>
    public int Count
    {
        get
        {
            lock (_waiting)
            {
                return _waiting.Count;
            }
        }
    }

    /// <summary>
    /// Queues a newcomer whose address holds <paramref name="held"/> places: its ticket (the places, at most 255,
    /// then its arrival), or <see cref="Refused"/>.
    /// </summary>
    public long Enter(int held)
    {
        var ticket = ((long)Math.Clamp(held, 0, 255) << 55) | (Interlocked.Increment(ref _arrivals) & ((1L << 55) - 1));
        lock (_waiting)
        {
            if (_waiting.Count >= Capacity)
            {
                if (ticket > _waiting.Max)
                {
                    return Refused;
                }

                _waiting.Remove(_waiting.Max);
            }

            _waiting.Add(ticket);
        }

        return ticket;
    }

    /// <summary>Where the ticket's newcomer stands: first, behind others, or dropped to make room.</summary>
    public Turn TurnOf(long ticket)
    {
        lock (_waiting)
        {
            return _waiting.Count > 0 && _waiting.Min == ticket ? Turn.First : _waiting.Contains(ticket) ? Turn.Waiting : Turn.Dropped;
        }
    }

    /// <summary>Takes the ticket's newcomer out of the queue (nothing if it was dropped).</summary>
    public void Leave(long ticket)
    {
        lock (_waiting)
        {
            _waiting.Remove(ticket);
        }
    }

    /// <summary>A queued newcomer's turn.</summary>
    public enum Turn
    {
        First,
        Waiting,
        Dropped,
    }
}
