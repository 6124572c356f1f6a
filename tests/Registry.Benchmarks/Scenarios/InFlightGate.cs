namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// Caps how many operations an open loop has outstanding: an arrival that finds the gate full is not sent
/// (the generator, not the server, limited the load) instead of waiting, so the schedule never slips.
/// </summary>
internal sealed class InFlightGate
{
    private readonly int _limit;
    private int _current;

    public InFlightGate(int limit)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        _limit = limit;
    }

    public int Limit => _limit;

    public int Current => Volatile.Read(ref _current);

    /// <summary>Takes a place when one is free; false when <see cref="Limit"/> operations are outstanding.</summary>
    public bool TryEnter()
    {
        if (Interlocked.Increment(ref _current) <= _limit)
        {
            return true;
        }

        Interlocked.Decrement(ref _current);
        return false;
    }

    public void Exit()
    {
        if (Interlocked.Decrement(ref _current) < 0)
        {
            throw new InvalidOperationException("more exits than entries");
        }
    }
}
