using System.Net;
using System.Net.Sockets;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Downloads;

/// <summary>
/// The direct download server's connection limits, each test on a registry of its own: at the limit it
/// refuses with 503 and warns the operator at most every 10 s, a connection that has waited long for a
/// request head gives its place to a new one, and one client address holds only its share.
/// </summary>
public sealed class DirectDownloadLimitTests
{
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
                var location = await PushAndRedirectAsync(client, repo, OciClient.RandomBytes(2 * 1024 * 1024));

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

            var lines = await File.ReadAllLinesAsync(logFile);
            var warnings = lines.Count(line => line.Contains("DirectDownloadsFull", StringComparison.Ordinal));
            // This failed now and then while every host in the process logged through Serilog's static logger
            // (another test's host could replace or silence it); on a failure, say what the log held.
            Assert.True(warnings == 1, $"{warnings} DirectDownloadsFull warnings in {lines.Length} lines; direct download lines: "
                + string.Join(" | ", lines.Where(line => line.Contains("Download", StringComparison.Ordinal)).Select(line => line[..Math.Min(line.Length, 200)])));
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
        var location = await PushAndRedirectAsync(client, repo, data);

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
        var location = await PushAndRedirectAsync(client, repo, data);

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

    // Pushes a blob large enough to be redirected and returns the signed URL the edge gives for it.
    private static async Task<Uri> PushAndRedirectAsync(OciClient client, string repo, byte[] data)
    {
        var digest = await client.PushBlobAsync(repo, data);
        using var redirect = await client.GetAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(redirect, HttpStatusCode.TemporaryRedirect);
        return redirect.Headers.Location!;
    }
}
