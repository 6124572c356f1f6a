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
}
