namespace Registry.Benchmarks.Monitoring;

/// <summary>What the server and the load generator used during one measured window.</summary>
internal sealed class MonitorResult
{
    public double WallSeconds { get; init; }

    /// <summary>utime + stime of the server processes; NaN when no PID was given.</summary>
    public double ServerCpuSeconds { get; init; }

    public double ClientCpuSeconds { get; init; }

    public double RssStartMiB { get; init; }

    public double RssPeakMiB { get; init; }

    public double RssEndMiB { get; init; }

    public int ThreadsStart { get; init; }

    public int ThreadsPeak { get; init; }

    public int ThreadsEnd { get; init; }

    public int FdsStart { get; init; }

    public int FdsPeak { get; init; }

    public int FdsEnd { get; init; }
}
