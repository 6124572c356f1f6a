namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// How many operations the blob stage may hold right now: its configured capacity while the CPU keeps
/// up, less while it does not. The blob stage's capacity is sized for slow clients (an upload from a
/// slow link holds a place while it uses almost no CPU); when fast clients fill it instead, a hundred
/// CPU-bound uploads share two cores and every one of them takes a hundred times longer. Each
/// observation that finds the CPU under pressure while the stage is busy halves the limit (from 512 to
/// the floor in about 150 ms: what a burst admits before the cut is what its tail waits behind);
/// each one that finds no pressure gives back a 256th of the capacity (checks come every 25 ms), so a
/// few seconds of calm restore it. Decisions rest on the CPU, not on how long steps take, which a slow client stretches
/// without any pressure.
/// </summary>
internal sealed class AdaptiveLimit
{
    private readonly int _capacity;
    private readonly int _floor;
    private readonly int _step;
    private int _current;

    public AdaptiveLimit(int capacity, int floor)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _capacity = capacity;
        _floor = Math.Clamp(floor, 1, capacity);
        _step = Math.Max(1, capacity / 256);
        _current = capacity;
    }

    /// <summary>The limit now.</summary>
    public int Current => Volatile.Read(ref _current);

    /// <summary>True while the limit is below the capacity: the stage is being held back.</summary>
    public bool Reduced => Current < _capacity;

    /// <summary>
    /// Takes one observation: whether the CPU was under pressure, and how many operations the stage held.
    /// Called from one timer only.
    /// </summary>
    public void Observe(bool pressured, int inUse)
    {
        var current = _current;
        if (pressured)
        {
            // Only a busy stage is held back: when something else loads the CPU, cutting uploads that
            // are not there changes nothing.
            if (inUse * 2 >= current)
            {
                current = Math.Max(_floor, current - Math.Max(1, current / 2));
            }
        }
        else
        {
            current = Math.Min(_capacity, current + _step);
        }

        Volatile.Write(ref _current, current);
    }
}
