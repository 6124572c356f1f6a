using System.Text.Json;
using System.Text.RegularExpressions;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Observability;

/// <summary>
/// The Grafana dashboard in deploy/ queries only metrics the registry really exports (with every
/// optional feature it charts turned on: direct downloads).
/// </summary>
[Collection(ObservabilityCollection.Name)]
public sealed partial class DashboardTests : IAsyncLifetime
{
    private OwnRegistry _registry = null!;

    public async Task InitializeAsync() => _registry = await OwnRegistry.StartAsync("--Registry:Blob:DirectDownloads:Enabled=true");

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    [Fact]
    public async Task EveryMetricTheDashboardQueries_IsExported()
    {
        // Traffic of every kind the dashboard shows, so labelled series exist.
        var client = _registry.Client;
        var repo = OciClient.UniqueRepo("dashboard");
        var pushed = await client.PushImageAsync(repo, "v1");
        (await client.GetAsync($"/v2/{repo}/manifests/v1", r => r.Headers.Accept.ParseAdd(pushed.MediaType))).Dispose();
        (await client.GetAsync($"/v2/{repo}/blobs/{pushed.LayerDigest}")).Dispose();
        (await client.GetAsync($"/v2/{repo}/manifests/absent")).Dispose();
        await client.StartUploadAsync(repo);
        await AbortedRequests.AbandonedPatchAsync(_registry.Address, await client.StartUploadAsync(repo));
        await Task.Delay(500);

        var scrape = await MetricsScrape.TakeAsync(client.Http);
        var referenced = new SortedSet<string>(StringComparer.Ordinal);
        using var dashboard = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "deploy", "grafana", "registry-dashboard.json")));
        foreach (var expression in Expressions(dashboard.RootElement))
        {
            foreach (Match match in MetricName().Matches(expression))
            {
                referenced.Add(match.Value);
            }
        }

        Assert.True(referenced.Count >= 30, $"only {referenced.Count} metrics found in the dashboard");
        var missing = referenced.Where(name => !scrape.Has(name)).ToList();
        Assert.True(missing.Count == 0, "the dashboard queries metrics nobody exports: " + string.Join(", ", missing));
    }

    [Fact]
    public async Task ThePrometheusConfiguration_ScrapesEveryProcessOfTheLocalLayout()
    {
        var config = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "deploy", "prometheus", "prometheus.yml"));
        var layout = await File.ReadAllTextAsync(Path.Combine(RepositoryRoot(), "deploy", "local", "run-split.sh"));
        foreach (var port in new[] { "5000", "9101", "9102", "9103" })
        {
            Assert.Contains($"127.0.0.1:{port}\"", config, StringComparison.Ordinal);
            Assert.Contains($"127.0.0.1:{port}", layout, StringComparison.Ordinal);
        }
    }

    private static IEnumerable<string> Expressions(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    if (property.Name is "expr" or "definition" && property.Value.ValueKind == JsonValueKind.String)
                    {
                        yield return property.Value.GetString()!;
                    }
                    else
                    {
                        foreach (var inner in Expressions(property.Value))
                        {
                            yield return inner;
                        }
                    }
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    foreach (var inner in Expressions(item))
                    {
                        yield return inner;
                    }
                }

                break;
        }
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Registry.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("Registry.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex(@"\b(?:registry|process|dotnet)_[a-z0-9_]+\b")]
    private static partial Regex MetricName();
}
