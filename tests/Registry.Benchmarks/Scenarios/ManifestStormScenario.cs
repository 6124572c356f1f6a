using Registry.Benchmarks.Reporting;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// S1: keep-alive clients GET the image manifest by tag as fast as the registry answers. Each client's first
/// response is checked against the pushed manifest's digest; later ones only by length.
/// </summary>
internal sealed class ManifestStormScenario : IScenario
{
    public string Name => "s1";

    public IReadOnlyList<ScenarioCase> Cases(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.S1Clients.Select(c => new ScenarioCase("GET-tag", c)).ToArray();
    }

    public async Task<RunResult> RunAsync(ScenarioContext context, ScenarioCase scenarioCase, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        using var storm = new ManifestStorm(context, scenarioCase.Clients, bufferSize: 16 * 1024);
        return await Measurement.RunAsync(
            context, Name, scenarioCase.Variant, scenarioCase.Clients, context.Options.MaxOps, storm.GetAsync, null, null,
            cancellationToken);
    }
}
