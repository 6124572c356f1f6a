namespace Registry.Benchmarks.Reporting;

/// <summary>One measured run of one scenario variant against one registry; one JSON object in results.json.</summary>
internal sealed class RunResult
{
    public int Round { get; set; }

    public string Label { get; set; } = string.Empty;

    public string Url { get; set; } = string.Empty;

    public string Scenario { get; set; } = string.Empty;

    public string Variant { get; set; } = string.Empty;

    public int Clients { get; set; }

    public double WallSeconds { get; set; }

    /// <summary>Successful operations (a request in s1, a 32 MiB GET in s2, a blob push in s3, a pull in s4).</summary>
    public long Ops { get; set; }

    public long Errors { get; set; }

    public Dictionary<string, long> ErrorKinds { get; set; } = [];

    public double OpsPerSecond { get; set; }

    public double MiBPerSecond { get; set; }

    public double P50Ms { get; set; }

    public double P90Ms { get; set; }

    public double P99Ms { get; set; }

    public double P999Ms { get; set; }

    public double MaxMs { get; set; }

    public double ServerCpuSeconds { get; set; }

    /// <summary>Server CPU per operation, successful and failed ones together.</summary>
    public double ServerCpuMsPerOp { get; set; }

    /// <summary>Server CPU as a percentage of one core.</summary>
    public double ServerCpuPercent { get; set; }

    public double ClientCpuSeconds { get; set; }

    public double ClientCpuPercent { get; set; }

    public double RssStartMiB { get; set; }

    public double RssPeakMiB { get; set; }

    public double RssEndMiB { get; set; }

    public int ThreadsStart { get; set; }

    public int ThreadsPeak { get; set; }

    public int ThreadsEnd { get; set; }

    public int FdsStart { get; set; }

    public int FdsPeak { get; set; }

    public int FdsEnd { get; set; }

    /// <summary>Scenario-specific figures (s5 leak deltas, admission counts).</summary>
    public SortedDictionary<string, double> Extra { get; set; } = new(StringComparer.Ordinal);
}
