using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Downloads;

/// <summary>Large blob GETs redirected to the blob service's direct download server, over real sockets.</summary>
public sealed class DirectDownloadTests(DirectDownloadFixture fixture) : IClassFixture<DirectDownloadFixture>
{
    private const int Large = 3 * 1024 * 1024 + 17;

    private OciClient Client => fixture.Client;

    [Fact]
    public async Task GetBlob_Large_RedirectsToASignedUrlThatServesTheBytes()
    {
        var repo = OciClient.UniqueRepo("direct-get");
        var data = OciClient.RandomBytes(Large);
        var digest = await Client.PushBlobAsync(repo, data);
        var before = await MetricsScrape.TakeAsync(Client.Http);

        using var redirect = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(redirect, HttpStatusCode.TemporaryRedirect);
        OciAssert.HeaderEqual(redirect, "Docker-Content-Digest", digest);
        var location = redirect.Headers.Location!;
        Assert.True(location.IsAbsoluteUri);
        Assert.Equal("127.0.0.1", location.Host);
        Assert.NotEqual(Client.BaseAddress.Port, location.Port);
        Assert.StartsWith("/sha256/" + digest[7..], location.AbsolutePath, StringComparison.Ordinal);

        using var direct = new HttpClient();
        using var response = await direct.GetAsync(location);
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.ContentLength(response, data.Length);
        Assert.Equal("application/octet-stream", response.Content.Headers.ContentType?.MediaType);
        OciAssert.HeaderEqual(response, "Docker-Content-Digest", digest);
        Assert.Equal($"\"{digest}\"", response.Headers.ETag?.Tag);
        Assert.Equal(digest, Digests.Sha256(await response.Content.ReadAsByteArrayAsync()));

        var after = await MetricsScrape.TakeAsync(Client.Http);
        Assert.True(after.Value("registry_direct_downloads_completed_total") > before.Value("registry_direct_downloads_completed_total"));
        Assert.True(after.Value("registry_direct_download_bytes_total") - before.Value("registry_direct_download_bytes_total") >= data.Length);
    }

    [Fact]
    public async Task GetBlob_FollowingRedirects_GetsTheSameBytes()
    {
        var repo = OciClient.UniqueRepo("direct-follow");
        var data = OciClient.RandomBytes(Large);
        var digest = await Client.PushBlobAsync(repo, data);

        using var following = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = true, UseProxy = false })
        {
            BaseAddress = Client.BaseAddress,
            Timeout = Timeouts.Request,
        };
        using var response = await following.GetAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.NotEqual(Client.BaseAddress.Port, response.RequestMessage!.RequestUri!.Port);
        Assert.Equal(data, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task HeadAndSmallAndRangedGets_AreAnsweredByTheEdge()
    {
        var repo = OciClient.UniqueRepo("direct-edge");
        var data = OciClient.RandomBytes(Large);
        var digest = await Client.PushBlobAsync(repo, data);
        var small = OciClient.RandomBytes(1000);
        var smallDigest = await Client.PushBlobAsync(repo, small);

        using (var head = await Client.HeadAsync($"/v2/{repo}/blobs/{digest}"))
        {
            OciAssert.Status(head, HttpStatusCode.OK);
            OciAssert.ContentLength(head, data.Length);
            OciAssert.HeaderEqual(head, "Docker-Content-Digest", digest);
        }

        using (var get = await Client.GetAsync($"/v2/{repo}/blobs/{smallDigest}"))
        {
            OciAssert.Status(get, HttpStatusCode.OK);
            Assert.Equal(small, await get.Content.ReadAsByteArrayAsync());
        }

        using (var ranged = await Client.GetAsync($"/v2/{repo}/blobs/{digest}", r => r.Headers.Range = new(100, 199)))
        {
            OciAssert.Status(ranged, HttpStatusCode.PartialContent);
            Assert.Equal(data.AsSpan(100, 100).ToArray(), await ranged.Content.ReadAsByteArrayAsync());
        }

        // A conditional GET of content the client holds gets its 304 here, not a redirect.
        using var conditional = await Client.GetAsync(
            $"/v2/{repo}/blobs/{digest}", r => r.Headers.TryAddWithoutValidation("If-None-Match", $"\"{digest}\""));
        OciAssert.Status(conditional, HttpStatusCode.NotModified);
    }

    [Fact]
    public async Task DirectUrl_RangeAndHead_FollowHttp()
    {
        var repo = OciClient.UniqueRepo("direct-range");
        var data = OciClient.RandomBytes(Large);
        var digest = await Client.PushBlobAsync(repo, data);
        var location = await RedirectAsync(repo, digest);
        using var direct = new HttpClient();

        using (var ranged = await SendAsync(direct, HttpMethod.Get, location, r => r.Headers.Range = new(1000, 2999)))
        {
            OciAssert.Status(ranged, HttpStatusCode.PartialContent);
            Assert.Equal($"bytes 1000-2999/{data.Length}", ranged.Content.Headers.ContentRange?.ToString());
            Assert.Equal(data.AsSpan(1000, 2000).ToArray(), await ranged.Content.ReadAsByteArrayAsync());
        }

        using (var beyond = await SendAsync(direct, HttpMethod.Get, location, r => r.Headers.Range = new(data.Length, null)))
        {
            await OciAssert.ErrorAsync(beyond, HttpStatusCode.RequestedRangeNotSatisfiable, "RANGE_INVALID");
            Assert.Equal($"bytes */{data.Length}", beyond.Content.Headers.ContentRange?.ToString());
        }

        // If-Range that does not name the blob: the whole blob (RFC 9110 13.1.5); naming it: the range.
        using (var stale = await SendAsync(direct, HttpMethod.Get, location, r =>
        {
            r.Headers.Range = new(1000, 2999);
            r.Headers.TryAddWithoutValidation("If-Range", "\"sha256:0\"");
        }))
        {
            OciAssert.Status(stale, HttpStatusCode.OK);
            Assert.Equal(data, await stale.Content.ReadAsByteArrayAsync());
        }

        using (var current = await SendAsync(direct, HttpMethod.Get, location, r =>
        {
            r.Headers.Range = new(0, 9);
            r.Headers.TryAddWithoutValidation("If-Range", $"\"{digest}\"");
        }))
        {
            OciAssert.Status(current, HttpStatusCode.PartialContent);
            Assert.Equal(data.AsSpan(0, 10).ToArray(), await current.Content.ReadAsByteArrayAsync());
        }

        // A client that holds the blob gets 304 on a connection that stays usable.
        using (var held = await SendAsync(direct, HttpMethod.Get, location, r =>
        {
            r.Headers.TryAddWithoutValidation("If-None-Match", "\"sha256:0\"");
            r.Headers.TryAddWithoutValidation("If-None-Match", $"W/\"{digest}\"");
        }))
        {
            OciAssert.Status(held, HttpStatusCode.NotModified);
            OciAssert.HeaderEqual(held, "ETag", $"\"{digest}\"");
            Assert.Empty(await held.Content.ReadAsByteArrayAsync());
        }

        using var head = await SendAsync(direct, HttpMethod.Head, location);
        OciAssert.Status(head, HttpStatusCode.OK);
        OciAssert.ContentLength(head, data.Length);
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task DirectUrl_TamperedExpiredOrUnsigned_Gets403Json()
    {
        var repo = OciClient.UniqueRepo("direct-denied");
        var digest = await Client.PushBlobAsync(repo, OciClient.RandomBytes(Large));
        var location = await RedirectAsync(repo, digest);
        var baseUrl = location.GetLeftPart(UriPartial.Authority);
        var path = digest.Replace(':', '/');
        var before = await MetricsScrape.TakeAsync(Client.Http);
        using var direct = new HttpClient();

        var tampered = new Uri(location.ToString().Replace("sig=", "sig=A", StringComparison.Ordinal));
        var otherBlob = new Uri(location.ToString().Replace(digest[7..], Digests.Sha256([1, 2, 3])[7..], StringComparison.Ordinal));
        var pastExpiry = DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds();
        var expired = new Uri($"{baseUrl}/{path}?expires={pastExpiry}&sig={Sign(path, pastExpiry)}");
        var unsigned = new Uri($"{baseUrl}/{path}");
        foreach (var url in new[] { tampered, otherBlob, expired, unsigned })
        {
            using var response = await SendAsync(direct, HttpMethod.Get, url);
            await OciAssert.ErrorAsync(response, HttpStatusCode.Forbidden, "DENIED");
        }

        var after = await MetricsScrape.TakeAsync(Client.Http);
        Assert.Equal(1, Delta(before, after, "registry_direct_download_rejections_total{reason=\"expired\"}"));
        Assert.Equal(3, Delta(before, after, "registry_direct_download_rejections_total{reason=\"bad_signature\"}"));
    }

    [Fact]
    public async Task DirectUrl_SignedForAMissingBlob_Gets404Json()
    {
        var path = Digests.Sha256(OciClient.RandomBytes(10)).Replace(':', '/');
        var repo = OciClient.UniqueRepo("direct-missing");
        var digest = await Client.PushBlobAsync(repo, OciClient.RandomBytes(Large));
        var baseUrl = (await RedirectAsync(repo, digest)).GetLeftPart(UriPartial.Authority);
        var expires = DateTimeOffset.UtcNow.AddMinutes(1).ToUnixTimeSeconds();
        using var direct = new HttpClient();

        using var response = await SendAsync(direct, HttpMethod.Get, new Uri($"{baseUrl}/{path}?expires={expires}&sig={Sign(path, expires)}"));
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task DirectDownload_ClientGoneMidTransfer_ConnectionIsReleased()
    {
        var repo = OciClient.UniqueRepo("direct-abort");
        var digest = await Client.PushBlobAsync(repo, OciClient.RandomBytes(24 * 1024 * 1024));
        var location = await RedirectAsync(repo, digest);
        var before = await MetricsScrape.TakeAsync(Client.Http);

        using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            socket.ReceiveBufferSize = 64 * 1024;
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, location.Port)).WaitAsync(Timeouts.Request);
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {location.PathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
            var buffer = new byte[64 * 1024];
            var received = await socket.ReceiveAsync(buffer).WaitAsync(Timeouts.Request);
            Assert.True(received > 0);
            Assert.Equal(1, (await WaitForAsync("registry_direct_download_connections", value => value == 1)));

            // Hang up with a reset while the server still has most of the blob to send.
            socket.LingerState = new LingerOption(true, 0);
        }

        Assert.Equal(0, await WaitForAsync("registry_direct_download_connections", value => value == 0));
        var after = await MetricsScrape.TakeAsync(Client.Http);
        Assert.Equal(1, Delta(before, after, "registry_direct_downloads_aborted_total"));
    }

    [Fact]
    public async Task Shutdown_LetsATransferInProgressFinish()
    {
        var dataDir = TempDirectory.Create();
        try
        {
            var instance = await RegistryFixture.StartAsync(dataDir, DirectDownloadFixture.Arguments);
            Task stopping;
            using (var client = new OciClient(instance.Address))
            {
                var repo = OciClient.UniqueRepo("direct-shutdown");
                var data = OciClient.RandomBytes(16 * 1024 * 1024);
                var digest = await client.PushBlobAsync(repo, data);
                using var redirect = await client.GetAsync($"/v2/{repo}/blobs/{digest}");
                var location = redirect.Headers.Location!;

                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.ReceiveBufferSize = 64 * 1024;
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, location.Port)).WaitAsync(Timeouts.Request);
                await socket.SendAsync(Encoding.ASCII.GetBytes($"GET {location.PathAndQuery} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
                var buffer = new byte[256 * 1024];
                var total = (long)await socket.ReceiveAsync(buffer).WaitAsync(Timeouts.Request);

                stopping = instance.DisposeAsync().AsTask();
                await Task.Delay(200);
                using var cts = new CancellationTokenSource(Timeouts.Request);
                while (true)
                {
                    var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                    if (read == 0)
                    {
                        break;
                    }

                    total += read;
                }

                // Head plus every byte of the body, then the server closed (it is stopping).
                Assert.True(total > data.Length, $"received {total} bytes of a {data.Length}-byte blob");
            }

            await stopping.WaitAsync(Timeouts.Start);
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    private static string Sign(string path, long expires) =>
        Convert.ToBase64String(HMACSHA256.HashData(
                DirectDownloadFixture.Key,
                Encoding.UTF8.GetBytes(path + "\n" + expires.ToString(CultureInfo.InvariantCulture))))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static double Delta(MetricsScrape before, MetricsScrape after, string series) => after.Value(series) - before.Value(series);

    private static async Task<HttpResponseMessage> SendAsync(
        HttpClient client,
        HttpMethod method,
        Uri url,
        Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, url);
        configure?.Invoke(request);
        using var cts = new CancellationTokenSource(Timeouts.Request);
        return await client.SendAsync(request, cts.Token);
    }

    private async Task<Uri> RedirectAsync(string repo, string digest)
    {
        using var redirect = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(redirect, HttpStatusCode.TemporaryRedirect);
        return redirect.Headers.Location!;
    }

    // Polls /metrics (at most 10 s) until the series satisfies the condition; returns its last value.
    private async Task<double> WaitForAsync(string series, Func<double, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var value = (await MetricsScrape.TakeAsync(Client.Http)).Value(series);
            if (condition(value) || DateTime.UtcNow > deadline)
            {
                return value;
            }

            await Task.Delay(50);
        }
    }
}
