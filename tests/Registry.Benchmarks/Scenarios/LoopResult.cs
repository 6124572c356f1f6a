namespace Registry.Benchmarks.Scenarios;

/// <summary>What a closed-loop run produced: latencies of successes and of failures, and failure kinds.</summary>
internal sealed class LoopResult
{
    public required long[] SuccessTicks { get; init; }

    public required long[] FailureTicks { get; init; }

    public required Dictionary<string, long> ErrorKinds { get; init; }

    public required double WallSeconds { get; init; }
}
