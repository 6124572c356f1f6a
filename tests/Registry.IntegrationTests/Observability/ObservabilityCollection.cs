namespace Registry.IntegrationTests.Observability;

/// <summary>
/// Metrics are process-wide and every test registry lives in this process, so tests that assert exact
/// deltas run alone, after the parallel tests.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ObservabilityCollection
{
    public const string Name = "Observability";
}
