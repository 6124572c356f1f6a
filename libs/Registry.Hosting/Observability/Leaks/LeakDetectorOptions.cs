namespace Registry.Hosting.Observability.Leaks;

/// <summary>The leak detector's settings, bound from "Registry:LeakDetector".</summary>
public sealed class LeakDetectorOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Registry:LeakDetector";

    /// <summary>Whether the detector runs. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>How often every signal is sampled. Default 30 seconds.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A signal is suspect when it is above this many times its baseline (and above the baseline by at
    /// least the signal's minimum increase). Default 2.
    /// </summary>
    public double GrowthFactor { get; set; } = 2;

    /// <summary>Consecutive suspect samples before the detector reports. Default 4 (two minutes at the default interval).</summary>
    public int ConsecutiveSamples { get; set; } = 4;

    /// <summary>
    /// How fast the baseline follows samples that are not suspect (an exponential moving average's
    /// weight of the newest sample). Default 0.05: the baseline forgets a level in about 20 samples.
    /// </summary>
    public double BaselineWeight { get; set; } = 0.05;

    /// <summary>
    /// Per signal name ("http_in_flight", "upload_sessions", "threadpool_threads", "managed_heap_bytes"),
    /// growth past the baseline below which nothing is reported; replaces the signal's own default.
    /// </summary>
    public Dictionary<string, double> MinimumIncrease { get; } = new(StringComparer.Ordinal);

    /// <summary>While a leak persists, the warning is repeated this often. Default 10 minutes.</summary>
    public TimeSpan RepeatEvery { get; set; } = TimeSpan.FromMinutes(10);
}
