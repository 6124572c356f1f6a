using Registry.Benchmarks.Reporting;

namespace Registry.Benchmarks.Scenarios;

/// <summary>Everything one scenario run needs: the target, the knobs, the fixture content and the round.</summary>
internal sealed class ScenarioContext
{
    public required RegistryTarget Target { get; init; }

    public required BenchOptions Options { get; init; }

    public required Fixtures Fixtures { get; init; }

    public required int Round { get; init; }

    /// <summary>This round's S1 result at 64 clients for the same target, when it ran (admission compares to it).</summary>
    public RunResult? S1Baseline { get; init; }
}
