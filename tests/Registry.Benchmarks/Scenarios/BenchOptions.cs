namespace Registry.Benchmarks.Scenarios;

/// <summary>The knobs of one scenarios run, read from the command line.</summary>
internal sealed class BenchOptions
{
    public static readonly string[] AllScenarios = ["s1", "s2", "s3", "s4", "s5", "admission", "overload"];

    public int Rounds { get; set; } = 3;

    public TimeSpan Duration { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan Warmup { get; set; } = TimeSpan.FromSeconds(2);

    public IReadOnlyList<string> Scenarios { get; set; } = AllScenarios;

    public string OutDir { get; set; } = "bench-results";

    public IReadOnlyList<int> S1Clients { get; set; } = [64, 256];

    public int StreamClients { get; set; } = 16;

    public int AdmissionClients { get; set; } = 1024;

    public int S5Clients { get; set; } = 500;

    public TimeSpan S5Settle { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Upper bound of operations per measured run (S3 writes 1 MiB each).</summary>
    public long MaxOps { get; set; } = 2_000_000;

    public long MaxPushes { get; set; } = 20_000;

    /// <summary>The overload scenario offers this many times the calibrated push capacity.</summary>
    public double OverloadFactor { get; set; } = 10;

    /// <summary>The overload scenario's cap on outstanding pushes; arrivals beyond it are counted as not sent.</summary>
    public int OverloadMaxInFlight { get; set; } = 2048;

    /// <summary>Rejects values the scenarios cannot run with.</summary>
    public void Validate()
    {
        foreach (var name in Scenarios)
        {
            if (!AllScenarios.Contains(name))
            {
                throw new ArgumentException($"unknown scenario '{name}'; known: {string.Join(',', AllScenarios)}");
            }
        }

        if (!double.IsFinite(OverloadFactor) || OverloadFactor < 1 || OverloadFactor > 1000)
        {
            throw new ArgumentException($"--overload-factor must be between 1 and 1000, not {OverloadFactor}");
        }

        if (OverloadMaxInFlight < 1 || OverloadMaxInFlight > 65_536)
        {
            throw new ArgumentException($"--overload-max-inflight must be between 1 and 65536, not {OverloadMaxInFlight}");
        }
    }
}
