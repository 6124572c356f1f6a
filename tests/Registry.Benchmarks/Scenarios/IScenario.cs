using Registry.Benchmarks.Reporting;

namespace Registry.Benchmarks.Scenarios;

/// <summary>A scenario: the variants it runs and how one variant is measured against one registry.</summary>
internal interface IScenario
{
    string Name { get; }

    IReadOnlyList<ScenarioCase> Cases(BenchOptions options);

    Task<RunResult> RunAsync(ScenarioContext context, ScenarioCase scenarioCase, CancellationToken cancellationToken);
}
