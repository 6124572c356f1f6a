using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>Bytes cross the edge and the gRPC chunking intact, whatever the sizes and boundaries.</summary>
public sealed class StreamingTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task GetBlob_64MiB_StreamsExactBytes()
    {
        const long length = 64L * 1024 * 1024;
        var repo = OciClient.UniqueRepo("stream-get");
        var digest = PatternStream.Digest(length, HashAlgorithmName.SHA256);
        var location = await Client.StartUploadAsync(repo);
        var content = new StreamContent(new PatternStream(length), 64 * 1024);
        content.Headers.ContentType = new MediaTypeHeaderValue(OciClient.OctetStream);
        using (var put = await Client.SendAsync(HttpMethod.Put, OciClient.AppendQuery(location, "digest=" + digest), content))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var cts = new CancellationTokenSource(Timeouts.Request);
        using var response = await Client.Http.GetAsync(
            Client.Resolve($"/v2/{repo}/blobs/{digest}"), HttpCompletionOption.ResponseHeadersRead, cts.Token);
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.ContentLength(response, length);
        await using var body = await response.Content.ReadAsStreamAsync(cts.Token);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, cts.Token)) > 0)
        {
            hash.AppendData(buffer, 0, read);
            total += read;
        }

        Assert.Equal(length, total);
        Assert.Equal(digest, "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    [Theory]
    [InlineData(65530, 131080)]
    [InlineData(65535, 65536)]
    [InlineData(0, 65535)]
    [InlineData(65536, 65536)]
    [InlineData(131071, 299999)]
    [InlineData(262143, 262144)]
    [InlineData(1, 299998)]
    public async Task GetBlob_RangeAcrossTransferChunks_ReturnsExactSlice(int first, int last)
    {
        var repo = OciClient.UniqueRepo("stream-range");
        var data = OciClient.RandomBytes(300_000);
        var digest = await Client.PushBlobAsync(repo, data);

        using var response = await Client.GetAsync(
            $"/v2/{repo}/blobs/{digest}", request => request.Headers.TryAddWithoutValidation("Range", $"bytes={first}-{last}"));
        OciAssert.Status(response, HttpStatusCode.PartialContent);
        OciAssert.HeaderEqual(response, "Content-Range", $"bytes {first}-{last}/{data.Length}");
        Assert.Equal(data[first..(last + 1)], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task PatchUpload_UnalignedChunks_AssembleExactly()
    {
        var repo = OciClient.UniqueRepo("stream-unaligned");
        var data = OciClient.RandomBytes(70_000 + 1 + 65_535 + 3);
        var location = await Client.StartUploadAsync(repo);
        var offset = 0;
        foreach (var size in new[] { 70_000, 1, 65_535, 3 })
        {
            using var patch = await Client.PatchAsync(location, data[offset..(offset + size)], $"{offset}-{offset + size - 1}");
            OciAssert.Status(patch, HttpStatusCode.Accepted);
            OciAssert.HeaderEqual(patch, "Range", $"0-{offset + size - 1}");
            location = OciAssert.Location(patch, $"/v2/{repo}/blobs/uploads/");
            offset += size;
        }

        var digest = Digests.Sha256(data);
        using (var put = await Client.PutUploadAsync(location, digest))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var get = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task PutUpload_ChunkedFinalBody_Returns201()
    {
        var repo = OciClient.UniqueRepo("stream-put");
        const long length = 1_000_003;
        var digest = PatternStream.Digest(length, HashAlgorithmName.SHA256);
        var location = await Client.StartUploadAsync(repo);
        var content = new StreamContent(new PatternStream(length));
        content.Headers.ContentType = new MediaTypeHeaderValue(OciClient.OctetStream);

        using var put = await Client.SendAsync(HttpMethod.Put, OciClient.AppendQuery(location, "digest=" + digest), content);
        OciAssert.Status(put, HttpStatusCode.Created);
        using var head = await Client.HeadAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.ContentLength(head, length);
    }

    [Fact]
    public async Task PutManifest_ChunkedBody_Returns201()
    {
        var repo = OciClient.UniqueRepo("stream-manifest");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var body = ManifestJson.Image(ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2), []);
        var content = new StreamContent(new FailingStream(body, failAfter: body.Length));
        content.Headers.TryAddWithoutValidation("Content-Type", ManifestJson.OciManifest);

        using var put = await Client.SendAsync(HttpMethod.Put, $"/v2/{repo}/manifests/v1", content, request =>
            request.Headers.TransferEncodingChunked = true);
        OciAssert.Status(put, HttpStatusCode.Created);
        using var get = await Client.GetAsync($"/v2/{repo}/manifests/v1");
        Assert.Equal(body, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task PutManifest_ChunkedBodyOverLimit_Returns413()
    {
        var repo = OciClient.UniqueRepo("stream-manifest-big");
        var content = new StreamContent(new PatternStream((4L * 1024 * 1024) + 1));
        content.Headers.TryAddWithoutValidation("Content-Type", ManifestJson.OciManifest);

        HttpResponseMessage? response = null;
        try
        {
            response = await Client.SendAsync(HttpMethod.Put, $"/v2/{repo}/manifests/big", content);
        }
        catch (HttpRequestException ex)
        {
            Assert.Fail("The registry cut the connection instead of answering 413: " + ex.Message);
        }

        using (response)
        {
            Assert.True(response!.StatusCode == HttpStatusCode.RequestEntityTooLarge, "Expected 413: " + OciAssert.Describe(response));
            Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
            OciAssert.ErrorCodes(await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task GetBlob_ClientsAbandonDownloads_RegistryKeepsServing()
    {
        var repo = OciClient.UniqueRepo("stream-abandon");
        var data = OciClient.RandomBytes(8 * 1024 * 1024);
        var digest = await Client.PushBlobAsync(repo, data);

        for (var i = 0; i < 10; i++)
        {
            using var handler = new SocketsHttpHandler { UseProxy = false };
            using var http = new HttpClient(handler) { BaseAddress = Client.BaseAddress, Timeout = Timeouts.Request };
            using var cts = new CancellationTokenSource(Timeouts.Request);
            using var response = await http.GetAsync($"/v2/{repo}/blobs/{digest}", HttpCompletionOption.ResponseHeadersRead, cts.Token);
            OciAssert.Status(response, HttpStatusCode.OK);
            await using var body = await response.Content.ReadAsStreamAsync(cts.Token);
            var buffer = new byte[64 * 1024];
            await body.ReadExactlyAsync(buffer, cts.Token);
            Assert.Equal(data[..buffer.Length], buffer);

            // Disposing the client mid-body resets the connection.
        }

        using var get = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(get, HttpStatusCode.OK);
        Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
    }
}
