using System.Net;
using System.Security.Cryptography;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// A storage that keeps failing (here: the uploads folder replaced by a file) opens the blob service's
/// circuit breaker: pushes then fail at once with 503 UNAVAILABLE and Retry-After instead of each
/// trying the broken storage, blob reads over gRPC get the same 503, and readiness turns unhealthy;
/// once the storage is repaired, a probe after the pause closes it.
/// </summary>
[Collection(Observability.ObservabilityCollection.Name)]
public sealed class StorageBreakerTests : IAsyncLifetime
{
    private OwnRegistry _registry = null!;

    public async Task InitializeAsync() => _registry = await OwnRegistry.StartAsync(
        "--Registry:Edge:DirectBlobReads=false",
        "--Registry:Storage:Resilience:BreakerFailures=2",
        "--Registry:Storage:Resilience:BreakDuration=00:00:02");

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    [Fact]
    public async Task FailingStorage_OpensTheBreaker_ThenRecovers()
    {
        var repo = OciClient.UniqueRepo("breaker");
        var blob = RandomNumberGenerator.GetBytes(4096);
        var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob));
        var existing = RandomNumberGenerator.GetBytes(64);
        var existingDigest = await _registry.Client.PushBlobAsync(repo, existing);

        var uploads = Path.Combine(_registry.DataDir, "docker", "registry", "v2", "_uploads");
        Directory.Delete(uploads, recursive: true);
        await File.WriteAllTextAsync(uploads, "not a folder");

        var statuses = new List<HttpStatusCode>();
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 6 && refused is null; i++)
        {
            var response = await _registry.Client.SendAsync(HttpMethod.Post, $"/v2/{repo}/blobs/uploads/?digest={digest}", new ByteArrayContent(blob));
            statuses.Add(response.StatusCode);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                refused = response;
            }
            else
            {
                response.Dispose();
            }
        }

        Assert.True(refused is not null, "statuses: " + string.Join(",", statuses));
        using (refused)
        {
            Assert.Contains("UNAVAILABLE", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
            Assert.True(refused.Headers.RetryAfter is not null, "a 503 must say when to retry");

            // The breaker stays open for two seconds: the client is told to wait for about that long.
            Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalSeconds, 1, 2);
        }

        Assert.DoesNotContain(HttpStatusCode.Created, statuses);
        var scrape = await MetricsScrape.TakeAsync(_registry.Client.Http);
        Assert.Equal(2, scrape.Value("registry_storage_breaker_state{driver=\"filesystem\"}"));
        Assert.True(scrape.Value("registry_storage_errors_total{driver=\"filesystem\",operation=\"open_writer\"}") >= 2);

        // While open, a blob read through the storage fails fast the same way, and the process is not ready.
        using (var read = await _registry.Client.GetAsync($"/v2/{repo}/blobs/{existingDigest}"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, read.StatusCode);
            Assert.Contains("UNAVAILABLE", await read.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var ready = await _registry.Client.GetAsync("/healthz/ready"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        // Repaired: after the pause the next push probes, succeeds, and closes the breaker.
        File.Delete(uploads);
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        using (var pushed = await _registry.Client.SendAsync(HttpMethod.Post, $"/v2/{repo}/blobs/uploads/?digest={digest}", new ByteArrayContent(blob)))
        {
            Assert.Equal(HttpStatusCode.Created, pushed.StatusCode);
        }

        using (var get = await _registry.Client.GetAsync($"/v2/{repo}/blobs/{digest}"))
        {
            Assert.Equal(blob, await get.Content.ReadAsByteArrayAsync());
        }

        scrape = await MetricsScrape.TakeAsync(_registry.Client.Http);
        Assert.Equal(0, scrape.Value("registry_storage_breaker_state{driver=\"filesystem\"}"));
        using (var ready = await _registry.Client.GetAsync("/healthz/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }
    }
}
