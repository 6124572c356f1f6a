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
/// (Idle connections are not evicted here: EvictIdleAfter is 10 minutes; see ConnectionEvictionTests.)
/// </summary>
public sealed class ConnectionGateTests : IAsyncLifetime
{
    private readonly string _dataDir = TempDirectory.Create();
    private Registry.EdgeHttp.RegistryInstance _registry = null!;

    public async Task InitializeAsync() =>
        _registry = await RegistryFixture.StartAsync(_dataDir, "--Registry:Edge:MaxConnections=2", "--Registry:Edge:EvictIdleAfter=00:10:00");

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

        // But only so many at once: connections that begin like a probe and stall cannot hold every descriptor. A new
        // probe takes the place of one whose head has not ended, which is cut.
        var stalledProbes = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 16; i++)
            {
                var probe = new TcpClient();
                stalledProbes.Add(probe);
                await probe.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
                await probe.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes("GET /healthz/live HTTP/1.1\r\n"));
            }

            Assert.Equal(200, (await RawHttp.SendAsync(_registry.Address, "GET", "/healthz/live")).Status);
            Assert.True(await ClientSockets.CountClosedAsync(stalledProbes) >= 1, "no stalled probe line was cut to make room");
        }
        finally
        {
            foreach (var probe in stalledProbes)
            {
                probe.Dispose();
            }
        }

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

/// <summary>
/// At the bound, a connection idle for Registry:Edge:EvictIdleAfter makes room for a new one: silent
/// connections cannot lock clients out; a connection with a request in flight keeps its place.
/// </summary>
public sealed class ConnectionEvictionTests : IAsyncLifetime
{
    private readonly string _dataDir = TempDirectory.Create();
    private Registry.EdgeHttp.RegistryInstance _registry = null!;

    public async Task InitializeAsync() =>
        _registry = await RegistryFixture.StartAsync(_dataDir, "--Registry:Edge:MaxConnections=2", "--Registry:Edge:EvictIdleAfter=00:00:00.300");

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        TempDirectory.Delete(_dataDir);
    }

    [Fact]
    public async Task SilentConnections_MakeRoom_ForAClientThatAsks()
    {
        using var first = new TcpClient();
        using var second = new TcpClient();
        await first.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
        await second.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
        await Task.Delay(600);

        // Both silent connections hold the two places and have been idle past EvictIdleAfter: a third is served.
        var served = await RawHttp.SendAsync(_registry.Address, "GET", "/v2/");
        Assert.Equal(200, served.Status);

        // The idle connection that made room was closed by the edge (a read ends), the other is still open.
        var closed = 0;
        foreach (var held in new[] { first, second })
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                var read = await held.GetStream().ReadAsync(new byte[16], wait.Token);
                closed += read == 0 ? 1 : 0;
            }
            catch (OperationCanceledException)
            {
                // Still open: nothing came within the second.
            }
            catch (IOException)
            {
                closed++;
            }
        }

        Assert.True(closed >= 1, "no silent connection was closed to make room");
    }

    [Fact]
    public async Task HalfSentRequestHeads_MakeRoom_ForAClientThatAsks()
    {
        using var first = new TcpClient();
        using var second = new TcpClient();
        foreach (var loris in new[] { first, second })
        {
            await loris.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
            await loris.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes("GET /v2/ HTTP/1.1\r\nHost: x\r\n"));
        }

        await Task.Delay(600);

        // Kestrel would keep a half-sent head until its headers timeout (30 s); owing it nothing, the gate cuts it.
        Assert.Equal(200, (await RawHttp.SendAsync(_registry.Address, "GET", "/v2/")).Status);
    }

    [Fact]
    public async Task StalledProbesPastTheBound_NeitherHoldAPlace_NorShutOutProbes()
    {
        var held = new List<TcpClient>();
        try
        {
            // Two answered keep-alive connections fill the bound; then 16 probe lines stall past it.
            for (var i = 0; i < 2; i++)
            {
                var client = new TcpClient();
                held.Add(client);
                await client.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
                await client.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes($"GET /v2/ HTTP/1.1\r\nHost: {_registry.Address.Authority}\r\n\r\n"));
                var answer = new byte[512];
                Assert.True(await client.GetStream().ReadAsync(answer) > 0);
            }

            for (var i = 0; i < 16; i++)
            {
                var probe = new TcpClient();
                held.Add(probe);
                await probe.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
                await probe.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes("GET /healthz/live HTTP/1.1\r\nHo"));
            }

            await Task.Delay(1200);

            // The stalled probes are counted apart: an idle keep-alive makes room for a client.
            Assert.Equal(200, (await RawHttp.SendAsync(_registry.Address, "GET", "/v2/")).Status);
        }
        finally
        {
            foreach (var client in held)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task WithTheBoundBusy_AStalledProbeMakesRoomForAProbe()
    {
        var repo = OciClient.UniqueRepo("evict-probe");
        string[] sessions;
        using (var client = new OciClient(_registry.Address))
        {
            sessions = [await client.StartUploadAsync(repo), await client.StartUploadAsync(repo)];
        }

        using var first = await StallInBodyAsync(sessions[0]);
        using var second = await StallInBodyAsync(sessions[1]);
        var probes = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 16; i++)
            {
                var probe = new TcpClient();
                probes.Add(probe);
                await probe.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
                await probe.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes("GET /healthz/live HTTP/1.1\r\nHo"));
            }

            await Task.Delay(1200);

            // No place within the bound comes free (both hold requests), and the probes past it are all taken:
            // the stalled probe of longest standing makes room, so a liveness check still answers.
            Assert.Equal(200, (await RawHttp.SendAsync(_registry.Address, "GET", "/healthz/live")).Status);
        }
        finally
        {
            foreach (var probe in probes)
            {
                probe.Dispose();
            }
        }
    }

    [Fact]
    public async Task AConnectionWithARequestInFlight_KeepsItsPlace()
    {
        var repo = OciClient.UniqueRepo("evict-busy");
        string[] sessions;
        using (var client = new OciClient(_registry.Address))
        {
            sessions = [await client.StartUploadAsync(repo), await client.StartUploadAsync(repo)];
        }

        // Two connections each send an upload chunk's head and half its body, then stall: requests in flight.
        using var first = await StallInBodyAsync(sessions[0]);
        using var second = await StallInBodyAsync(sessions[1]);
        await Task.Delay(600);

        RawResponse? refused = null;
        for (var i = 0; i < 20 && refused?.Status != 503; i++)
        {
            refused = await RawHttp.SendAsync(_registry.Address, "GET", "/v2/");
        }

        Assert.Equal(503, refused!.Status);
        Assert.True(first.Connected && second.Connected);
    }

    [Fact]
    public async Task AnIdleConnectionStillSendingItsLastResponse_IsClosedOnlyAfterIt()
    {
        var repo = OciClient.UniqueRepo("evict-draining");
        var blob = OciClient.RandomBytes(1024 * 1024);
        string digest;
        using (var client = new OciClient(_registry.Address))
        {
            digest = await client.PushBlobAsync(repo, blob);
        }

        // A reader that asks for the blob and does not read for a while: its handler ends (the answer sits in
        // Kestrel's pipe and the socket buffers), so the connection counts as idle while bytes are still owed.
        using var slow = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 16 * 1024 };
        await slow.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
        await slow.SendAsync(System.Text.Encoding.ASCII.GetBytes(
            $"GET /v2/{repo}/blobs/{digest} HTTP/1.1\r\nHost: {_registry.Address.Authority}\r\n\r\n"));
        await Task.Delay(800);

        // A silent connection takes the other place; the newcomer after it evicts the idle connection of
        // longest standing, the slow reader's (the silent one is not idle long enough yet).
        using var silent = new TcpClient();
        await silent.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
        await Task.Delay(50);
        Assert.Equal(200, (await RawHttp.SendAsync(_registry.Address, "GET", "/v2/")).Status);

        using var received = new MemoryStream();
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(Timeouts.Request);
        try
        {
            // Until the whole answer (a 1 MiB body and a head of well under 4 KiB) or the end of the connection.
            int read;
            while (received.Length < blob.Length + 4096 && (read = await slow.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                await received.WriteAsync(buffer.AsMemory(0, read));
                if (received.Length >= blob.Length && RawResponse.Parse(received.ToArray()).Body.Length >= blob.Length)
                {
                    break;
                }
            }
        }
        catch (SocketException ex)
        {
            Assert.Fail($"the connection was reset after {received.Length} bytes: {ex.SocketErrorCode}");
        }

        var answer = RawResponse.Parse(received.ToArray());
        Assert.Equal(200, answer.Status);
        Assert.Equal(blob.Length, answer.Body.Length);
        Assert.Equal(digest, Digests.Sha256(answer.Body));

        // Then the edge closed it (evicted, not kept alive): the end of the stream, not a reset.
        using var closing = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        Assert.Equal(0, await slow.ReceiveAsync(buffer, SocketFlags.None, closing.Token));
    }

    private async Task<TcpClient> StallInBodyAsync(string location)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
        var head = $"PATCH {location} HTTP/1.1\r\nHost: {_registry.Address.Authority}\r\nContent-Type: application/octet-stream\r\nContent-Length: 1024\r\n\r\n";
        await tcp.GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes(head));
        await tcp.GetStream().WriteAsync(new byte[512]);
        return tcp;
    }
}

/// <summary>A blob download whose client stops reading is cut after Registry:Edge:ResponseStallTimeout.</summary>
public sealed class ResponseStallTests : IAsyncLifetime
{
    private readonly string _dataDir = TempDirectory.Create();
    private Registry.EdgeHttp.RegistryInstance _registry = null!;

    public async Task InitializeAsync() =>
        _registry = await RegistryFixture.StartAsync(_dataDir, "--Registry:Edge:ResponseStallTimeout=00:00:01");

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        TempDirectory.Delete(_dataDir);
    }

    [Fact]
    public async Task AClientThatStopsReading_IsCut_OneThatReadsGetsEverything()
    {
        var repo = OciClient.UniqueRepo("stall");
        var blob = OciClient.RandomBytes(8 * 1024 * 1024);
        using var client = new OciClient(_registry.Address);
        var digest = await client.PushBlobAsync(repo, blob);

        // What was sent before the cut can still be read; then the connection ends, short of the blob.
        var received = await StopReadingAsync($"/v2/{repo}/blobs/{digest}");
        Assert.InRange(received, 0, blob.Length - 1);

        using var whole = await client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, whole.StatusCode);
        Assert.Equal(digest, Digests.Sha256(await whole.Content.ReadAsByteArrayAsync()));
    }

    [Fact]
    public async Task AClientThatReadsSlowlyButSteadily_GetsEverything()
    {
        var repo = OciClient.UniqueRepo("stall-steady");
        var blob = OciClient.RandomBytes(5 * 1024 * 1024);
        using var client = new OciClient(_registry.Address);
        var digest = await client.PushBlobAsync(repo, blob);

        // 32 KiB every 50 ms, some 640 KB/s: the kernel lets a flush complete only once a third of the send
        // buffer (grown to 4 MiB on the loopback) has drained, which takes this client longer than one timeout
        // (1 s here), so a flush stays pending past it while the client keeps reading.
        using var reader = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 64 * 1024 };
        await reader.ConnectAsync(_registry.Address.Host, _registry.Address.Port);
        await reader.SendAsync(System.Text.Encoding.ASCII.GetBytes(
            $"GET /v2/{repo}/blobs/{digest} HTTP/1.1\r\nHost: {_registry.Address.Authority}\r\nConnection: close\r\n\r\n"));
        using var received = new MemoryStream();
        var buffer = new byte[32 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            int read;
            while ((read = await reader.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                await received.WriteAsync(buffer.AsMemory(0, read));
                await Task.Delay(50);
            }
        }
        catch (SocketException ex)
        {
            Assert.Fail($"cut after {received.Length} bytes: {ex.SocketErrorCode}");
        }

        var answer = RawResponse.Parse(received.ToArray());
        Assert.Equal(200, answer.Status);
        Assert.Equal(digest, Digests.Sha256(answer.Body));
    }

    [Fact]
    public async Task AClientThatStopsReadingALargeManifest_IsCut()
    {
        var repo = OciClient.UniqueRepo("stall-manifest");
        using var client = new OciClient(_registry.Address);
        var config = await client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var descriptor = ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2);
        var body = ManifestJson.Image(descriptor, [], annotations: $"{{\"pad\":\"{new string('x', 4_000_000)}\"}}");
        using (var put = await client.PutManifestAsync(repo, "big", body, ManifestJson.OciManifest))
        {
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }

        var received = await StopReadingAsync($"/v2/{repo}/manifests/big");
        Assert.InRange(received, 0, body.Length - 1);

        using var whole = await client.GetAsync($"/v2/{repo}/manifests/big");
        Assert.Equal(body, await whole.Content.ReadAsByteArrayAsync());
    }

    private Task<long> StopReadingAsync(string target) => StopReadingAsync(_registry.Address, target);

    // Asks for the target, reads nothing for four seconds, then reads what comes until the connection ends.
    internal static async Task<long> StopReadingAsync(Uri registry, string target)
    {
        using var stalled = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await stalled.ConnectAsync(registry.Host, registry.Port);
        await stalled.SendAsync(System.Text.Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: {registry.Authority}\r\nConnection: close\r\n\r\n"));
        await Task.Delay(4000);

        long received = 0;
        var buffer = new byte[64 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            int read;
            while ((read = await stalled.ReceiveAsync(buffer, SocketFlags.None, timeout.Token)) > 0)
            {
                received += read;
            }
        }
        catch (SocketException)
        {
            // Cut with a reset: as good as an end.
        }

        return received;
    }
}

/// <summary>
/// While a blob GET waits for a body slot, the body whose write has waited on its client longest, for
/// Registry:Edge:SlowReaderCutAfter or more, is cut to make room: slow readers cannot hold every slot.
/// </summary>
public sealed class SlowReaderCutTests() : FreshRegistryTest("--Registry:Edge:MaxBlobBodies=2", "--Registry:Edge:SlowReaderCutAfter=00:00:01")
{
    [Fact]
    public async Task TwoReadersThatStop_DoNotShutOutAThird_TheSlowestIsCut()
    {
        var repo = OciClient.UniqueRepo("slow-cut");
        var blob = OciClient.RandomBytes(8 * 1024 * 1024);
        using var client = new OciClient(Instance.Address);
        var digest = await client.PushBlobAsync(repo, blob);

        // Two readers take both slots and read nothing for four seconds; their writes wait on them.
        var first = ResponseStallTests.StopReadingAsync(Instance.Address, $"/v2/{repo}/blobs/{digest}");
        await Task.Delay(200);
        var second = ResponseStallTests.StopReadingAsync(Instance.Address, $"/v2/{repo}/blobs/{digest}");
        await Task.Delay(2000);

        // A third is served whole (rather than refused after waiting two seconds for a slot).
        using (var third = await client.GetAsync($"/v2/{repo}/blobs/{digest}"))
        {
            Assert.Equal(HttpStatusCode.OK, third.StatusCode);
            Assert.Equal(digest, Digests.Sha256(await third.Content.ReadAsByteArrayAsync()));
        }

        // The first reader, stuck longest, was cut short; the second, once it reads, gets the whole answer.
        var received = await Task.WhenAll(first, second);
        Assert.InRange(received[0], 0, blob.Length - 1);
        Assert.InRange(received[1], blob.Length, blob.Length + 4096);
    }
}
