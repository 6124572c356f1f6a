using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// A chunked body whose chunk size no number can hold is a malformed request: the client, still
/// connected, gets 400 with an OCI error, never a success for a chunk that was thrown away (it got 200)
/// nor a 500 (manifest PUTs did). Kestrel reports that case differently from other malformed bodies.
/// </summary>
public class MalformedChunkTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    private const string OverflowingChunk = "ffffffffffffffffff\r\nabc";

    [Fact]
    public async Task Patch_WithOverflowingChunkSize_Gets400AndTheSessionStaysEmpty()
    {
        var repo = OciClient.UniqueRepo("chunk-overflow");
        var location = await Client.StartUploadAsync(repo);

        var (status, body) = await SendChunkedAsync("PATCH", PathOf(location), "application/octet-stream");

        Assert.Equal(400, status);
        Assert.Equal("BLOB_UPLOAD_INVALID", FirstErrorCode(body));
        using var session = await Client.GetAsync(location);
        OciAssert.HeaderEqual(session, "Range", "0-0");
    }

    [Fact]
    public async Task ClosingPut_WithOverflowingChunkSize_Gets400AndStoresNothing()
    {
        var repo = OciClient.UniqueRepo("chunk-overflow-put");
        var location = await Client.StartUploadAsync(repo);
        var digest = Digests.Sha256(Encoding.ASCII.GetBytes("abc"));

        var (status, body) = await SendChunkedAsync("PUT", OciClient.AppendQuery(PathOf(location), "digest=" + digest), "application/octet-stream");

        Assert.Equal(400, status);
        Assert.Equal("BLOB_UPLOAD_INVALID", FirstErrorCode(body));
        using var head = await Client.HeadAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(head, System.Net.HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task ManifestPut_WithOverflowingChunkSize_Gets400ManifestInvalid()
    {
        var repo = OciClient.UniqueRepo("chunk-overflow-manifest");

        var (status, body) = await SendChunkedAsync("PUT", $"/v2/{repo}/manifests/v1", "application/vnd.oci.image.manifest.v1+json");

        Assert.Equal(400, status);
        Assert.Equal("MANIFEST_INVALID", FirstErrorCode(body));
    }

    [Theory]
    [InlineData("gzip, chunked")]
    [InlineData("chunked, chunked")]
    public async Task Patch_WithATransferCodingBesidesOneChunked_Gets501AndStoresNothing(string transferEncoding)
    {
        var repo = OciClient.UniqueRepo("gzip-chunked");
        var location = await Client.StartUploadAsync(repo);

        var (status, body) = await SendAsync("PATCH", PathOf(location), "application/octet-stream", transferEncoding, "3\r\nabc\r\n0\r\n\r\n");

        Assert.Equal(501, status);
        Assert.Equal("UNSUPPORTED", FirstErrorCode(body));
        using var session = await Client.GetAsync(location);
        OciAssert.HeaderEqual(session, "Range", "0-0");
    }

    private string PathOf(string location) => new Uri(Client.BaseAddress, location).PathAndQuery;

    private Task<(int Status, byte[] Body)> SendChunkedAsync(string method, string target, string contentType) =>
        SendAsync(method, target, contentType, "chunked", OverflowingChunk);

    private async Task<(int Status, byte[] Body)> SendAsync(string method, string target, string contentType, string transferEncoding, string body)
    {
        using var cts = new CancellationTokenSource(Timeouts.Request);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(Client.BaseAddress.Host, Client.BaseAddress.Port, cts.Token);
        var stream = tcp.GetStream();
        var request = $"{method} {target} HTTP/1.1\r\nHost: {Client.BaseAddress.Authority}\r\nContent-Type: {contentType}\r\n"
            + $"Transfer-Encoding: {transferEncoding}\r\nConnection: close\r\n\r\n{body}";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), cts.Token);

        // Read to the end of the connection: an aborted connection (no answer at all) fails the parse.
        using var received = new MemoryStream();
        try
        {
            await stream.CopyToAsync(received, cts.Token);
        }
        catch (IOException)
        {
            // A reset after the answer was written still leaves the answer to check.
        }

        var response = RawResponse.Parse(received.ToArray());
        return (response.Status, response.Body);
    }

    private static string? FirstErrorCode(byte[] body)
    {
        using var json = JsonDocument.Parse(body);
        return json.RootElement.GetProperty("errors")[0].GetProperty("code").GetString();
    }
}

/// <summary>The same tests with upload bodies streamed over gRPC.</summary>
public sealed class MalformedChunkTestsStreamed(StreamedUploadsFixture fixture) : MalformedChunkTests(fixture), IClassFixture<StreamedUploadsFixture>;
