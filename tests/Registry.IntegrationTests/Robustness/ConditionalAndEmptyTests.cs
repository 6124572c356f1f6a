using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>Conditional manifest and blob reads as RFC 9110 defines If-None-Match and If-Range, and the zero-byte blob.</summary>
public sealed class ConditionalAndEmptyTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task GetManifest_IfNoneMatchListContainingDigest_Returns304()
    {
        var repo = OciClient.UniqueRepo("inm-list");
        var image = await Client.PushImageAsync(repo, "latest");

        using var response = await Client.GetAsync(
            $"/v2/{repo}/manifests/latest",
            request => request.Headers.TryAddWithoutValidation("If-None-Match", $"\"{Digests.EmptySha256}\", \"{image.Digest}\""));
        OciAssert.Status(response, HttpStatusCode.NotModified);
    }

    [Fact]
    public async Task GetManifest_IfNoneMatchStar_Returns304()
    {
        var repo = OciClient.UniqueRepo("inm-star");
        await Client.PushImageAsync(repo, "latest");

        using var response = await Client.GetAsync(
            $"/v2/{repo}/manifests/latest", request => request.Headers.TryAddWithoutValidation("If-None-Match", "*"));
        OciAssert.Status(response, HttpStatusCode.NotModified);
    }

    [Fact]
    public async Task GetManifest_IfNoneMatchAfterTagMoved_Returns200WithNewBytes()
    {
        var repo = OciClient.UniqueRepo("inm-moved");
        var first = await Client.PushImageAsync(repo, "latest");
        var second = await Client.PushImageAsync(repo, "latest");

        using var response = await Client.GetAsync(
            $"/v2/{repo}/manifests/latest",
            request => request.Headers.TryAddWithoutValidation("If-None-Match", $"\"{first.Digest}\""));
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.Equal(second.Body, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetManifest_IfNoneMatchOnMissing_Returns404()
    {
        var repo = OciClient.UniqueRepo("inm-missing");
        await Client.PushImageAsync(repo, "latest");

        using var response = await Client.GetAsync(
            $"/v2/{repo}/manifests/absent", request => request.Headers.TryAddWithoutValidation("If-None-Match", "*"));
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task GetBlob_EmptyBlob_Returns200WithZeroLength()
    {
        var repo = OciClient.UniqueRepo("empty-get");
        var digest = await Client.PushBlobAsync(repo, []);
        Assert.Equal(Digests.EmptySha256, digest);

        using var response = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.ContentLength(response, 0);
        OciAssert.HeaderEqual(response, "Docker-Content-Digest", digest);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_RangeOnEmptyBlob_Returns416WithStarZero()
    {
        var repo = OciClient.UniqueRepo("empty-range");
        var digest = await Client.PushBlobAsync(repo, []);

        using var response = await Client.GetAsync(
            $"/v2/{repo}/blobs/{digest}", request => request.Headers.TryAddWithoutValidation("Range", "bytes=0-"));
        OciAssert.Status(response, HttpStatusCode.RequestedRangeNotSatisfiable);
        OciAssert.HeaderEqual(response, "Content-Range", "bytes */0");
    }

    [Fact]
    public async Task HeaderValuesWithBytesAbove7F_AreAnsweredNotRefused()
    {
        // obs-text (RFC 9110 5.5): Kestrel alone would answer an empty 400.
        var repo = OciClient.UniqueRepo("obs-text");
        var digest = await Client.PushBlobAsync(repo, OciClient.RandomBytes(100));

        var response = await RawHttp.SendAsync(Client.BaseAddress, "GET", $"/v2/{repo}/blobs/{digest}",
            "User-Agent: caf\u00e9-builder/1.0", "If-None-Match: \"\u00e9\"");
        Assert.Equal(200, response.Status);
        Assert.Equal(digest, response.Header("Docker-Content-Digest"));
    }

    [Theory]
    [InlineData("000000000000000000010", 201)] // leading zeros are legal; read as Latin-1 it dropped the connection
    [InlineData("\u000b10", 400)] // a vertical tab around the length is not whitespace in HTTP
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAA", 400)]
    public async Task ContentLength_IsReadStrictly(string contentLength, int expected)
    {
        var repo = OciClient.UniqueRepo("strict-length");
        var body = "0123456789"u8.ToArray();

        var response = await RawHttp.SendWithBodyAsync(
            Client.BaseAddress, "POST", $"/v2/{repo}/blobs/uploads/?digest={Digests.Sha256(body)}", body, "Content-Length: " + contentLength);
        Assert.Equal(expected, response.Status);
    }

    [Fact]
    public async Task GetBlob_SuffixRangeOnEmptyBlob_Returns200Empty()
    {
        // RFC 9110 14.1.1: a non-zero suffix range is satisfiable even for empty content.
        var repo = OciClient.UniqueRepo("empty-suffix");
        var digest = await Client.PushBlobAsync(repo, []);

        using var response = await Client.GetAsync(
            $"/v2/{repo}/blobs/{digest}", request => request.Headers.TryAddWithoutValidation("Range", "bytes=-10"));
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.ContentLength(response, 0);
        Assert.Null(OciAssert.Header(response, "Content-Range"));
    }

    [Fact]
    public async Task HeadBlob_WithRange_IgnoresRangeAndReturns200()
    {
        // RFC 9110 14.2: range handling is defined for GET only; a server ignores Range on other methods.
        var repo = OciClient.UniqueRepo("head-range");
        var data = OciClient.RandomBytes(1000);
        var digest = await Client.PushBlobAsync(repo, data);

        using var response = await Client.HeadAsync(
            $"/v2/{repo}/blobs/{digest}", request => request.Headers.TryAddWithoutValidation("Range", "bytes=10-19"));
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.ContentLength(response, 1000);
        Assert.Null(OciAssert.Header(response, "Content-Range"));
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_IfNoneMatchDigest_Returns304WithoutBody()
    {
        var repo = OciClient.UniqueRepo("blob-inm");
        var digest = await Client.PushBlobAsync(repo, OciClient.RandomBytes(5000));

        using var response = await Client.GetAsync(
            $"/v2/{repo}/blobs/{digest}", request => request.Headers.TryAddWithoutValidation("If-None-Match", $"W/\"{digest}\""));
        OciAssert.Status(response, HttpStatusCode.NotModified);
        OciAssert.HeaderEqual(response, "ETag", $"\"{digest}\"");
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_IfNoneMatchOtherDigest_Returns200WithBytes()
    {
        var repo = OciClient.UniqueRepo("blob-inm-other");
        var data = OciClient.RandomBytes(5000);
        var digest = await Client.PushBlobAsync(repo, data);

        using var response = await Client.GetAsync(
            $"/v2/{repo}/blobs/{digest}", request => request.Headers.TryAddWithoutValidation("If-None-Match", $"\"{Digests.EmptySha256}\""));
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.Equal(data, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_RangeWithIfRangeNamingTheBlob_Returns206()
    {
        var repo = OciClient.UniqueRepo("blob-ifrange");
        var data = OciClient.RandomBytes(1000);
        var digest = await Client.PushBlobAsync(repo, data);

        using var response = await Client.GetAsync($"/v2/{repo}/blobs/{digest}", request =>
        {
            request.Headers.TryAddWithoutValidation("Range", "bytes=10-19");
            request.Headers.TryAddWithoutValidation("If-Range", $"\"{digest}\"");
        });
        OciAssert.Status(response, HttpStatusCode.PartialContent);
        Assert.Equal(data[10..20], await response.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("\"sha256:0000000000000000000000000000000000000000000000000000000000000000\"")]
    [InlineData("W/\"{digest}\"")]
    [InlineData("Sat, 05 Dec 2026 10:00:00 GMT")]
    public async Task GetBlob_RangeWithIfRangeNotMatching_ReturnsTheWholeBlob(string ifRange)
    {
        // RFC 9110 13.1.5: a weak tag, another tag or a date (no Last-Modified is sent) fails the condition.
        var repo = OciClient.UniqueRepo("blob-ifrange-stale");
        var data = OciClient.RandomBytes(1000);
        var digest = await Client.PushBlobAsync(repo, data);

        using var response = await Client.GetAsync($"/v2/{repo}/blobs/{digest}", request =>
        {
            request.Headers.TryAddWithoutValidation("Range", "bytes=10-19");
            request.Headers.TryAddWithoutValidation("If-Range", ifRange.Replace("{digest}", digest, StringComparison.Ordinal));
        });
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.Null(OciAssert.Header(response, "Content-Range"));
        Assert.Equal(data, await response.Content.ReadAsByteArrayAsync());
    }
}
