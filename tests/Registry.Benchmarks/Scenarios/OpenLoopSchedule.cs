namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// The arrival times of an open loop: arrival i is due <c>i / rate</c> seconds after the start, for as many
/// arrivals as fit in the duration (capped by a budget). Pure arithmetic on Stopwatch ticks, so the pacing
/// can be reasoned about without a clock.
/// </summary>
internal readonly struct OpenLoopSchedule
{
    private readonly double _ticksPerArrival;

    public OpenLoopSchedule(double ratePerSecond, TimeSpan duration, long maxArrivals, long ticksPerSecond)
    {
        if (!double.IsFinite(ratePerSecond) || ratePerSecond <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ratePerSecond), ratePerSecond, "the arrival rate must be positive");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(maxArrivals);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ticksPerSecond);
        RatePerSecond = ratePerSecond;
        _ticksPerArrival = ticksPerSecond / ratePerSecond;

        // Arrivals whose due time falls inside [0, duration).
        var fitting = Math.Ceiling(duration.TotalSeconds * ratePerSecond);
        Arrivals = fitting <= 0 ? 0 : (long)Math.Min(fitting, maxArrivals);
    }

    public double RatePerSecond { get; }

    /// <summary>How many arrivals the schedule holds.</summary>
    public long Arrivals { get; }

    /// <summary>When arrival <paramref name="index"/> is due, in ticks after the start.</summary>
    public long DueTicks(long index) => (long)(index * _ticksPerArrival);

    /// <summary>How many arrivals are due once <paramref name="elapsedTicks"/> have passed since the start.</summary>
    public long DueBy(long elapsedTicks)
    {
        if (elapsedTicks < 0)
        {
            return 0;
        }

        // The first index not yet due, found from the rate and then corrected for floating-point rounding.
        var count = (long)(elapsedTicks / _ticksPerArrival) + 1;
        while (count > 0 && DueTicks(count - 1) > elapsedTicks)
        {
            count--;
        }

        while (DueTicks(count) <= elapsedTicks && count < Arrivals)
        {
            count++;
        }

        return Math.Min(count, Arrivals);
    }
}
