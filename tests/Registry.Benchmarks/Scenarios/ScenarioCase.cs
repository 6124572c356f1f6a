namespace Registry.Benchmarks.Scenarios;

/// <summary>One variant of a scenario at one concurrency.</summary>
internal readonly record struct ScenarioCase(string Variant, int Clients);
