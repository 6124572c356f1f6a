using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Observability;

/// <summary>
/// A blob read over gRPC (the edge not allowed to open the file itself) is a server-streaming call:
/// the edge's client series count it once, when it ends.
/// </summary>
[Collection(ObservabilityCollection.Name)]
public sealed class StreamingCallMetricsTests : IAsyncLifetime
{
    private const string ReadBlob = "/registry.v1.Blobs/ReadBlob";

    private readonly string _dataDir = TempDirectory.Create();
    private Registry.EdgeHttp.RegistryInstance _registry = null!;
    private OciClient _client = null!;

    public async Task InitializeAsync()
    {
        _registry = await RegistryFixture.StartAsync(_dataDir, "--Registry:Edge:DirectBlobReads=false");
        _client = new OciClient(_registry.Address);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _registry.DisposeAsync();
        TempDirectory.Delete(_dataDir);
    }

    [Fact]
    public async Task BlobReadOverGrpc_IsCountedOnTheClientSide()
    {
        var repo = OciClient.UniqueRepo("stream-metrics");
        var pushed = await _client.PushImageAsync(repo, "v1");
        var before = await MetricsScrape.TakeAsync(_client.Http);

        using (var layer = await _client.GetAsync($"/v2/{repo}/blobs/{pushed.LayerDigest}"))
        {
            Assert.Equal(HttpStatusCode.OK, layer.StatusCode);
            Assert.Equal(pushed.Layer, await layer.Content.ReadAsByteArrayAsync());
        }

        var after = await MetricsScrape.TakeAsync(_client.Http);
        Assert.Equal(1, after.Delta(before, $"registry_grpc_client_calls_total{{method=\"{ReadBlob}\",code=\"OK\"}}"));
        Assert.Equal(1, after.Delta(before, $"registry_grpc_client_call_duration_seconds_count{{method=\"{ReadBlob}\",code=\"OK\"}}"));
        Assert.Equal(1, after.Delta(before, $"registry_grpc_server_calls_total{{method=\"{ReadBlob}\",code=\"OK\"}}"));
    }
}
