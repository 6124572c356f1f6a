namespace Registry.Blob.Storage;

/// <summary>Retries and the circuit breaker around the storage driver, bound from "Registry:Storage:Resilience".</summary>
public sealed class StorageResilienceOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Registry:Storage:Resilience";

    /// <summary>
    /// Extra attempts of an idempotent call (size, open for reading, delete) that failed with an error
    /// the driver calls transient. Default 2.
    /// </summary>
    public int Retries { get; set; } = 2;

    /// <summary>The wait before the first retry; each further retry waits twice as long. Default 50 ms.</summary>
    public TimeSpan RetryDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Failed calls in a row (after their retries) that open the breaker. Default 5.</summary>
    public int BreakerFailures { get; set; } = 5;

    /// <summary>
    /// How long an open breaker fails calls at once (503 UNAVAILABLE at the edge) before it lets one
    /// call through to probe the storage. Default 10 seconds.
    /// </summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws when a setting is out of range.</summary>
    public void Validate()
    {
        if (Retries is < 0 or > 10)
        {
            throw new InvalidOperationException($"{SectionName}:Retries must be between 0 and 10.");
        }

        if (RetryDelay < TimeSpan.Zero || RetryDelay > TimeSpan.FromSeconds(10))
        {
            throw new InvalidOperationException($"{SectionName}:RetryDelay must be between 0 and 10 seconds.");
        }

        if (BreakerFailures < 1)
        {
            throw new InvalidOperationException($"{SectionName}:BreakerFailures must be at least 1.");
        }

        if (BreakDuration <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}:BreakDuration must be positive.");
        }
    }
}
