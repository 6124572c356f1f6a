using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>Conditional manifest reads as RFC 9110 defines If-None-Match, and the zero-byte blob.</summary>
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
}
