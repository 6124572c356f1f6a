namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// One open-loop phase: arrivals at <paramref name="RatePerSecond"/> for <paramref name="Duration"/>, at
/// most <paramref name="MaxArrivals"/> of them and <paramref name="MaxInFlight"/> outstanding at once;
/// afterwards outstanding operations get <paramref name="Drain"/> to finish before they are cancelled.
/// </summary>
internal readonly record struct OpenLoopSettings(
    double RatePerSecond,
    TimeSpan Duration,
    int MaxInFlight,
    long MaxArrivals,
    TimeSpan Drain);
