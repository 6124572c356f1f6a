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

    private OwnRegistry _registry = null!;

    public async Task InitializeAsync() => _registry = await OwnRegistry.StartAsync("--Registry:Edge:DirectBlobReads=false");

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    [Fact]
    public async Task BlobReadOverGrpc_IsCountedOnTheClientSide()
    {
        var repo = OciClient.UniqueRepo("stream-metrics");
        var pushed = await _registry.Client.PushImageAsync(repo, "v1");
        var before = await MetricsScrape.TakeAsync(_registry.Client.Http);

        using (var layer = await _registry.Client.GetAsync($"/v2/{repo}/blobs/{pushed.LayerDigest}"))
        {
            Assert.Equal(HttpStatusCode.OK, layer.StatusCode);
            Assert.Equal(pushed.Layer, await layer.Content.ReadAsByteArrayAsync());
        }

        var after = await MetricsScrape.TakeAsync(_registry.Client.Http);
        Assert.Equal(1, after.Delta(before, $"registry_grpc_client_calls_total{{method=\"{ReadBlob}\",code=\"OK\"}}"));
        Assert.Equal(1, after.Delta(before, $"registry_grpc_client_call_duration_seconds_count{{method=\"{ReadBlob}\",code=\"OK\"}}"));
        Assert.Equal(1, after.Delta(before, $"registry_grpc_server_calls_total{{method=\"{ReadBlob}\",code=\"OK\"}}"));
    }
}
