namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// What an open-loop phase produced. Latencies run from each arrival's scheduled time (not from when it was
/// actually sent) to the end of its last request, in Stopwatch ticks.
/// </summary>
internal sealed class OpenLoopResult
{
    /// <summary>Latencies of successful operations, sorted.</summary>
    public required long[] SuccessTicks { get; init; }

    /// <summary>
    /// Latencies of successful operations scheduled <see cref="OpenLoop.SettleTime"/> or more after the phase
    /// began, sorted: what the server gives once it has had a moment to react to the new load.
    /// </summary>
    public required long[] SettledSuccessTicks { get; init; }

    /// <summary>Latencies of failed operations by kind, each sorted.</summary>
    public required Dictionary<string, long[]> FailureTicks { get; init; }

    /// <summary>Arrivals the schedule held (rate x duration, within the budget).</summary>
    public required long Scheduled { get; init; }

    public required long Sent { get; init; }

    /// <summary>Arrivals dropped because <see cref="OpenLoopSettings.MaxInFlight"/> were outstanding.</summary>
    public required long NotSent { get; init; }

    /// <summary>Sent operations still outstanding when the drain ended; cancelled and not counted elsewhere.</summary>
    public required long Unfinished { get; init; }

    /// <summary>The most the dispatcher sent an arrival after its due time.</summary>
    public required double MaxLagMs { get; init; }

    public required double MeanLagMs { get; init; }

    /// <summary>Connections the phase opened (a pooled connection serves many arrivals).</summary>
    public required long ConnectionsOpened { get; init; }

    /// <summary>From the first due time to the last arrival sent.</summary>
    public required double DispatchSeconds { get; init; }

    /// <summary>From the last arrival sent until nothing was outstanding or the drain limit passed.</summary>
    public required double DrainSeconds { get; init; }

    public double WallSeconds => DispatchSeconds + DrainSeconds;

    public long Failures
    {
        get
        {
            long total = 0;
            foreach (var ticks in FailureTicks.Values)
            {
                total += ticks.Length;
            }

            return total;
        }
    }
}
