using System.Net;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Registry.Blob;
using Registry.Hosting;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Observability;

/// <summary>Liveness, readiness and the gRPC health service, in the all-in-one registry and a service alone.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class HealthTests : IClassFixture<RegistryFixture>
{
    private readonly RegistryFixture _registry;

    public HealthTests(RegistryFixture registry)
    {
        _registry = registry;
    }

    [Theory]
    [InlineData("/healthz/live")]
    [InlineData("/healthz/ready")]
    public async Task AllInOne_IsLiveAndReady(string path)
    {
        using var response = await _registry.Client.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task BlobServiceAlone_ServesMetricsOverHttp1_AndGrpcHealth()
    {
        var dataDir = TempDirectory.Create();
        try
        {
            var builder = RegistryHost.CreateServiceBuilder(
            [
                "--urls", "http://127.0.0.1:0", "--data-dir", dataDir,
                "--Registry:Observability:HttpUrl=http://127.0.0.1:0",
            ]);
            builder.Services.AddBlobService(builder.Configuration);
            await using var app = builder.Build();
            app.MapBlobService();
            app.MapServiceObservability();
            await app.StartAsync().WaitAsync(Timeouts.Start);
            try
            {
                // Listeners come up in order: the gRPC address, then the HTTP/1.1 one.
                var urls = app.Urls.ToArray();
                Assert.Equal(2, urls.Length);
                using var http = new HttpClient { BaseAddress = new Uri(urls[1]), Timeout = Timeouts.Request };
                var scrape = await MetricsScrape.TakeAsync(http);
                Assert.True(scrape.Has("registry_gc_heap_size_bytes"));
                Assert.True(scrape.Samples.ContainsKey("registry_upload_sessions_open"));
                Assert.Equal("Healthy", await http.GetStringAsync("/healthz/ready"));

                using var channel = GrpcChannel.ForAddress(urls[0]);
                var reply = await new Health.HealthClient(channel).CheckAsync(
                    new HealthCheckRequest(), deadline: DateTime.UtcNow + Timeouts.Request);
                Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, reply.Status);
            }
            finally
            {
                await app.StopAsync();
            }
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }
}
