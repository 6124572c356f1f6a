using System.Net;
using System.Net.Sockets;
using Registry.Hosting.Memory;
using Registry.IntegrationTests.Observability;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// Near the memory the GC may use the edge refuses instead of failing: at a high heap pressure level new
/// blob downloads and uploads get 503 UNAVAILABLE with Retry-After while manifests and continuing
/// uploads go on; at critical every new request and every new connection does; back at normal all is
/// served again. The level is process-wide, so these tests set it themselves (with the registry's own
/// checks off) and run alone.
/// </summary>
[Collection(ObservabilityCollection.Name)]
public sealed class HeapPressureTests : IAsyncLifetime
{
    private readonly string _dataDir = TempDirectory.Create();
    private Registry.EdgeHttp.RegistryInstance _registry = null!;
    private OciClient _client = null!;

    public async Task InitializeAsync()
    {
        HeapPressure.Reset();
        _registry = await RegistryFixture.StartAsync(_dataDir, "--Registry:Memory:HeapPressureChecks=false");
        _client = new OciClient(_registry.Address);
    }

    public async Task DisposeAsync()
    {
        HeapPressure.Reset();
        _client.Dispose();
        await _registry.DisposeAsync();
        TempDirectory.Delete(_dataDir);
    }

    [Fact]
    public async Task HighPressure_RefusesNewBlobTransfers_CriticalRefusesEverything_NormalServesAgain()
    {
        var repo = OciClient.UniqueRepo("heap");
        var image = await _client.PushImageAsync(repo, "v1");
        var blob = $"/v2/{repo}/blobs/{image.LayerDigest}";
        var upload = await _client.StartUploadAsync(repo);

        HeapPressure.Observe(65, 100);
        Assert.Equal(HeapPressureLevel.High, HeapPressure.Level);
        using (var refused = await _client.GetAsync(blob))
        {
            await OciAssert.ErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "UNAVAILABLE");
            Assert.Equal("1", OciAssert.Header(refused, "Retry-After"));
        }

        using (var refused = await _client.PostUploadAsync(repo))
        {
            await OciAssert.ErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "UNAVAILABLE");
        }

        // What holds no large buffers, or continues work already admitted, goes on.
        using (var manifest = await _client.GetAsync($"/v2/{repo}/manifests/v1"))
        {
            OciAssert.Status(manifest, HttpStatusCode.OK);
        }

        using (var head = await _client.HeadAsync(blob))
        {
            OciAssert.Status(head, HttpStatusCode.OK);
        }

        var chunk = OciClient.RandomBytes(1000);
        upload = await _client.PatchAcceptedAsync(repo, upload, chunk, "0-999");

        HeapPressure.Observe(80, 100);
        Assert.Equal(HeapPressureLevel.Critical, HeapPressure.Level);
        using (var refused = await _client.GetAsync("/v2/"))
        {
            await OciAssert.ErrorAsync(refused, HttpStatusCode.ServiceUnavailable, "UNAVAILABLE");
            Assert.Equal("1", OciAssert.Header(refused, "Retry-After"));
        }

        // A new connection is refused before its request is read.
        var fresh = await RawHttp.SendAsync(_registry.Address, "GET", "/v2/");
        Assert.Equal(503, fresh.Status);
        Assert.Equal("1", fresh.Header("Retry-After"));
        Assert.Contains("UNAVAILABLE", System.Text.Encoding.UTF8.GetString(fresh.Body), StringComparison.Ordinal);

        // Probes still get through: alive, but out of rotation.
        Assert.Equal(200, (await RawHttp.SendAsync(_registry.Address, "GET", "/healthz/live")).Status);
        Assert.Equal(503, (await RawHttp.SendAsync(_registry.Address, "GET", "/healthz/ready")).Status);

        HeapPressure.Observe(10, 100);
        using (var served = await _client.GetAsync(blob))
        {
            OciAssert.Status(served, HttpStatusCode.OK);
        }

        using (var done = await _client.PutUploadAsync(upload, Digests.Sha256(chunk)))
        {
            OciAssert.Status(done, HttpStatusCode.Created);
        }

        Assert.Equal(200, (await RawHttp.SendAsync(_registry.Address, "GET", "/v2/")).Status);
    }
}

/// <summary>
/// The edge holds at most Registry:Edge:MaxConnections connections; one past them gets a canned 503 with
/// Retry-After before its request is read, and a place freed by a closed connection is taken again.
/// </summary>
public sealed class ConnectionGateTests : IAsyncLifetime
{
    private readonly string _dataDir = TempDirectory.Create();
    private Registry.EdgeHttp.RegistryInstance _registry = null!;

    public async Task InitializeAsync() =>
        _registry = await RegistryFixture.StartAsync(_dataDir, "--Registry:Edge:MaxConnections=2");

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        TempDirectory.Delete(_dataDir);
    }

    [Fact]
    public async Task AConnectionPastTheBound_Gets503_AndAFreedPlaceIsTakenAgain()
    {
        using var first = new TcpClient();
        using var second = new TcpClient();
        await first.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
        await second.ConnectAsync(_registry.Address.Host, _registry.Address.Port);

        // Both held connections count once the edge has accepted them.
        RawResponse? refused = null;
        for (var i = 0; i < 50 && refused?.Status != 503; i++)
        {
            refused = await RawHttp.SendAsync(_registry.Address, "GET", "/v2/");
            if (refused.Status != 503)
            {
                await Task.Delay(20);
            }
        }

        Assert.Equal(503, refused!.Status);
        Assert.Equal("1", refused.Header("Retry-After"));
        Assert.Contains("UNAVAILABLE", System.Text.Encoding.UTF8.GetString(refused.Body), StringComparison.Ordinal);

        Assert.Equal("registry/2.0", refused.Header("Docker-Distribution-API-Version"));
        var head = await RawHttp.SendAsync(_registry.Address, "HEAD", "/v2/");
        Assert.Equal(503, head.Status);
        Assert.Empty(head.Body);

        // A health probe past the bound is let through.
        Assert.Equal(200, (await RawHttp.SendAsync(_registry.Address, "GET", "/healthz/live")).Status);

        first.Close();
        var served = 0;
        for (var i = 0; i < 100 && served != 200; i++)
        {
            served = (await RawHttp.SendAsync(_registry.Address, "GET", "/v2/")).Status;
            if (served != 200)
            {
                await Task.Delay(20);
            }
        }

        Assert.Equal(200, served);
    }
}
