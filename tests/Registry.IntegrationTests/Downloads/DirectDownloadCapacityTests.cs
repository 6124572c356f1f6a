using System.Net;
using System.Net.Sockets;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Downloads;

/// <summary>
/// When every connection of the direct download server is taken (idle sockets, here), the edge stops
/// redirecting and serves large blobs itself, so pulls go on; once a slot frees, redirects resume.
/// </summary>
public sealed class DirectDownloadCapacityTests : IAsyncLifetime
{
    private OwnRegistry _registry = null!;

    public async Task InitializeAsync() => _registry = await OwnRegistry.StartAsync(
        "--Registry:Blob:DirectDownloads:Enabled=true",
        "--Registry:Blob:DirectDownloads:MaxConnections=2");

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    [Fact]
    public async Task FullDirectServer_TheEdgeServesTheBlobItself_ThenRedirectsAgain()
    {
        var client = _registry.Client;
        var repo = OciClient.UniqueRepo("direct-full");
        var data = OciClient.RandomBytes(2 * 1024 * 1024);
        var digest = await client.PushBlobAsync(repo, data);

        Uri location;
        using (var redirect = await client.GetAsync($"/v2/{repo}/blobs/{digest}"))
        {
            OciAssert.Status(redirect, HttpStatusCode.TemporaryRedirect);
            location = redirect.Headers.Location!;
        }

        var idle = new List<Socket>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(IPAddress.Loopback, location.Port);
                idle.Add(socket);
            }

            // The server counts a connection once it has accepted it: wait (bounded) until it serves the blob itself.
            HttpResponseMessage? served = null;
            for (var i = 0; i < 50 && served is null; i++)
            {
                var response = await client.GetAsync($"/v2/{repo}/blobs/{digest}");
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    served = response;
                }
                else
                {
                    OciAssert.Status(response, HttpStatusCode.TemporaryRedirect);
                    response.Dispose();
                    await Task.Delay(50);
                }
            }

            Assert.True(served is not null, "the edge kept redirecting to a full direct download server");
            using (served)
            {
                Assert.Equal(data, await served.Content.ReadAsByteArrayAsync());
            }
        }
        finally
        {
            foreach (var socket in idle)
            {
                socket.Dispose();
            }
        }

        // Freed, the server takes redirected downloads again.
        var redirected = false;
        for (var i = 0; i < 50 && !redirected; i++)
        {
            using var response = await client.GetAsync($"/v2/{repo}/blobs/{digest}");
            redirected = response.StatusCode == HttpStatusCode.TemporaryRedirect;
            if (!redirected)
            {
                await Task.Delay(50);
            }
        }

        Assert.True(redirected, "redirects did not resume once the idle connections closed");
    }

    [Fact]
    public async Task FullDirectServer_Refuses503_AndWarnsTheOperatorOnce()
    {
        var dataDir = TempDirectory.Create();
        var logFile = Path.Combine(dataDir, "registry.log");
        var idle = new List<Socket>();
        try
        {
            var registry = await RegistryFixture.StartAsync(
                dataDir,
                $"--Registry:Logging:File={logFile}",
                "--Registry:Blob:DirectDownloads:Enabled=true",
                "--Registry:Blob:DirectDownloads:MaxConnections=2",
                "--Registry:Blob:DirectDownloads:EvictWaitingAfter=00:10:00");
            await using (registry)
            {
                using var client = new OciClient(registry.Address);
                var repo = OciClient.UniqueRepo("direct-warn");
                var (digest, location) = await PushAndRedirectAsync(client, repo, OciClient.RandomBytes(2 * 1024 * 1024));

                // Two idle sockets take both places; every further one is answered 503 and closed.
                var refusals = 0;
                for (var i = 0; i < 6; i++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    idle.Add(socket);
                    await socket.ConnectAsync(IPAddress.Loopback, location.Port);
                    if (i < 2)
                    {
                        continue;
                    }

                    var answer = new byte[64];
                    using var timeout = new CancellationTokenSource(Timeouts.Request);
                    var received = await socket.ReceiveAsync(answer, SocketFlags.None, timeout.Token);
                    if (System.Text.Encoding.ASCII.GetString(answer, 0, received).StartsWith("HTTP/1.1 503", StringComparison.Ordinal))
                    {
                        refusals++;
                    }
                }

                Assert.True(refusals >= 3, $"only {refusals} of 4 connections over the limit were refused with 503");
            }

            var warnings = (await File.ReadAllLinesAsync(logFile)).Count(line => line.Contains("DirectDownloadsFull", StringComparison.Ordinal));
            Assert.Equal(1, warnings);
        }
        finally
        {
            foreach (var socket in idle)
            {
                socket.Dispose();
            }

            TempDirectory.Delete(dataDir);
        }
    }

    [Fact]
    public async Task FullDirectServer_ClosesTheLongestIdleConnection_ToServeASignedUrl()
    {
        await using var registry = await OwnRegistry.StartAsync(
            "--Registry:Blob:DirectDownloads:Enabled=true",
            "--Registry:Blob:DirectDownloads:MaxConnections=2",
            "--Registry:Blob:DirectDownloads:EvictWaitingAfter=00:00:00.2");
        var client = registry.Client;
        var repo = OciClient.UniqueRepo("direct-evict");
        var data = OciClient.RandomBytes(2 * 1024 * 1024);
        var (digest, location) = await PushAndRedirectAsync(client, repo, data);

        // Two connections that never send a request (a slowloris, or idle keep-alives) take both places.
        var idle = new List<Socket>();
        try
        {
            for (var i = 0; i < 2; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                idle.Add(socket);
                await socket.ConnectAsync(IPAddress.Loopback, location.Port);
            }

            await Task.Delay(500);
            using var direct = new HttpClient();
            using var response = await direct.GetAsync(location);
            OciAssert.Status(response, HttpStatusCode.OK);
            Assert.Equal(data, await response.Content.ReadAsByteArrayAsync());

            // One of the two was closed to make room: its next receive sees the end of the stream.
            var closed = 0;
            foreach (var socket in idle)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
                try
                {
                    if (await socket.ReceiveAsync(new byte[16], SocketFlags.None, timeout.Token) == 0)
                    {
                        closed++;
                    }
                }
                catch (OperationCanceledException)
                {
                    // Still open.
                }
                catch (SocketException)
                {
                    closed++;
                }
            }

            Assert.Equal(1, closed);
        }
        finally
        {
            foreach (var socket in idle)
            {
                socket.Dispose();
            }
        }
    }

    [Fact]
    public async Task OneClientAddress_HoldsOnlyItsShare_OthersAreStillServed()
    {
        await using var registry = await OwnRegistry.StartAsync(
            "--Registry:Blob:DirectDownloads:Enabled=true",
            "--Registry:Blob:DirectDownloads:MaxConnections=8",
            "--Registry:Blob:DirectDownloads:MaxConnectionsPerClient=2",
            "--Registry:Blob:DirectDownloads:EvictWaitingAfter=00:10:00");
        var client = registry.Client;
        var repo = OciClient.UniqueRepo("direct-per-client");
        var data = OciClient.RandomBytes(2 * 1024 * 1024);
        var (digest, location) = await PushAndRedirectAsync(client, repo, data);

        var sockets = new List<Socket>();
        try
        {
            // 127.0.0.2 holds its two places with sockets that send nothing; its third connection is refused.
            for (var i = 0; i < 3; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
                await socket.ConnectAsync(IPAddress.Loopback, location.Port);
            }

            var answer = new byte[64];
            using (var timeout = new CancellationTokenSource(Timeouts.Request))
            {
                var received = await sockets[2].ReceiveAsync(answer, SocketFlags.None, timeout.Token);
                Assert.StartsWith("HTTP/1.1 503", System.Text.Encoding.ASCII.GetString(answer, 0, received), StringComparison.Ordinal);
            }

            // Another address (127.0.0.1) is served while the server has room.
            using var direct = new HttpClient();
            using var response = await direct.GetAsync(location);
            OciAssert.Status(response, HttpStatusCode.OK);
            Assert.Equal(data, await response.Content.ReadAsByteArrayAsync());
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    // Pushes a blob large enough to be redirected and returns its digest and the signed URL the edge gives for it.
    private static async Task<(string Digest, Uri Location)> PushAndRedirectAsync(OciClient client, string repo, byte[] data)
    {
        var digest = await client.PushBlobAsync(repo, data);
        using var redirect = await client.GetAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(redirect, HttpStatusCode.TemporaryRedirect);
        return (digest, redirect.Headers.Location!);
    }
}
