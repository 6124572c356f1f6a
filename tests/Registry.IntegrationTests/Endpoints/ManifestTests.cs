using System.Net;
using System.Text.Json;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Endpoints;

/// <summary>end-3 (GET/HEAD manifest), end-7 (PUT manifest), end-9 (DELETE manifest).</summary>
public sealed class ManifestTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task PutManifest_ByTag_Returns201WithDigestLocation()
    {
        var repo = OciClient.UniqueRepo("man-put");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var body = ManifestJson.Image(ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2), []);
        var digest = Digests.Sha256(body);

        using var response = await Client.PutManifestAsync(repo, "v1", body, ManifestJson.OciManifest);
        OciAssert.Status(response, HttpStatusCode.Created);
        Assert.Equal($"/v2/{repo}/manifests/{digest}", OciAssert.Location(response, "/v2/"));
        OciAssert.HeaderEqual(response, "Docker-Content-Digest", digest);
    }

    [Fact]
    public async Task GetManifest_ByTag_ReturnsStoredBytesTypeAndDigest()
    {
        var repo = OciClient.UniqueRepo("man-get-tag");
        var image = await Client.PushImageAsync(repo, "latest");

        using var response = await Client.GetAsync($"/v2/{repo}/manifests/latest");
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.Equal(ManifestJson.OciManifest, response.Content.Headers.ContentType?.ToString());
        OciAssert.HeaderEqual(response, "Docker-Content-Digest", image.Digest);
        OciAssert.ContentLength(response, image.Body.Length);
        Assert.Equal(image.Body, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetManifest_ByDigest_ReturnsStoredBytes()
    {
        var repo = OciClient.UniqueRepo("man-get-digest");
        var image = await Client.PushImageAsync(repo, "latest");

        using var response = await Client.GetAsync($"/v2/{repo}/manifests/{image.Digest}");
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.HeaderEqual(response, "Docker-Content-Digest", image.Digest);
        Assert.Equal(image.Body, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task HeadManifest_ByTag_Returns200WithHeadersAndNoBody()
    {
        var repo = OciClient.UniqueRepo("man-head");
        var image = await Client.PushImageAsync(repo, "latest");

        using var response = await Client.HeadAsync($"/v2/{repo}/manifests/latest");
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.Equal(ManifestJson.OciManifest, response.Content.Headers.ContentType?.ToString());
        OciAssert.HeaderEqual(response, "Docker-Content-Digest", image.Digest);
        OciAssert.ContentLength(response, image.Body.Length);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetManifest_UnknownTag_Returns404ManifestUnknown()
    {
        var repo = OciClient.UniqueRepo("man-unknown-tag");
        await Client.PushImageAsync(repo, "latest");

        using var response = await Client.GetAsync($"/v2/{repo}/manifests/nope");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task GetManifest_UnknownDigest_Returns404ManifestUnknown()
    {
        var repo = OciClient.UniqueRepo("man-unknown-digest");
        await Client.PushImageAsync(repo, "latest");

        using var response = await Client.GetAsync($"/v2/{repo}/manifests/{Digests.Sha256(OciClient.RandomBytes(8))}");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task HeadManifest_Missing_Returns404WithoutBody()
    {
        var repo = OciClient.UniqueRepo("man-head-missing");
        await Client.PushImageAsync(repo, "latest");

        using var response = await Client.HeadAsync($"/v2/{repo}/manifests/nope");
        OciAssert.Status(response, HttpStatusCode.NotFound);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task PutManifest_MissingLayerBlob_Returns4xxManifestBlobUnknown()
    {
        var repo = OciClient.UniqueRepo("man-missing-blob");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var missing = Digests.Sha256(OciClient.RandomBytes(32));
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [ManifestJson.Descriptor(ManifestJson.LayerMediaType, missing, 32)]);

        using var response = await Client.PutManifestAsync(repo, "v1", body, ManifestJson.OciManifest);

        // The spec names the code, not the status; distribution answers 400, the registry's table 404.
        var status = response.StatusCode == HttpStatusCode.NotFound ? HttpStatusCode.NotFound : HttpStatusCode.BadRequest;
        await OciAssert.ErrorAsync(response, status, "MANIFEST_BLOB_UNKNOWN");
        using var get = await Client.GetAsync($"/v2/{repo}/manifests/v1");
        OciAssert.Status(get, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task PutManifest_UrlsOnlyExcuseAnAbsentBlobForForeignLayers()
    {
        var repo = OciClient.UniqueRepo("man-urls");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var absent = Digests.Sha256(OciClient.RandomBytes(32));
        const string Urls = "\"urls\":[\"https://example.invalid/layer\"]";

        var ordinary = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [ManifestJson.Descriptor(ManifestJson.LayerMediaType, absent, 32, Urls)]);
        using (var response = await Client.PutManifestAsync(repo, "ordinary", ordinary, ManifestJson.OciManifest))
        {
            var status = response.StatusCode == HttpStatusCode.NotFound ? HttpStatusCode.NotFound : HttpStatusCode.BadRequest;
            await OciAssert.ErrorAsync(response, status, "MANIFEST_BLOB_UNKNOWN");
        }

        var foreign = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [ManifestJson.Descriptor("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", absent, 32, Urls)]);
        using var accepted = await Client.PutManifestAsync(repo, "foreign", foreign, ManifestJson.OciManifest);
        OciAssert.Status(accepted, HttpStatusCode.Created);
    }

    [Fact]
    public async Task PutManifest_IndexWithMissingChild_Returns4xxManifestBlobUnknown()
    {
        var repo = OciClient.UniqueRepo("man-missing-child");
        var missing = Digests.Sha256(OciClient.RandomBytes(32));
        var body = ManifestJson.Index([ManifestJson.Platform(ManifestJson.OciManifest, missing, 300)]);

        using var response = await Client.PutManifestAsync(repo, "multi", body, ManifestJson.OciIndex);
        var status = response.StatusCode == HttpStatusCode.NotFound ? HttpStatusCode.NotFound : HttpStatusCode.BadRequest;
        await OciAssert.ErrorAsync(response, status, "MANIFEST_BLOB_UNKNOWN");
    }

    [Fact]
    public async Task PutManifest_DescriptorSizeDiffersFromTheBlob_Returns400ManifestInvalid()
    {
        var repo = OciClient.UniqueRepo("man-wrong-size");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var layerBytes = OciClient.RandomBytes(32);
        var layer = await Client.PushBlobAsync(repo, layerBytes);

        var wrongConfig = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 999),
            [ManifestJson.Descriptor(ManifestJson.LayerMediaType, layer, 32)]);
        using (var response = await Client.PutManifestAsync(repo, "v1", wrongConfig, ManifestJson.OciManifest))
        {
            await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
        }

        var wrongLayer = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [ManifestJson.Descriptor(ManifestJson.LayerMediaType, layer, 31)]);
        using (var response = await Client.PutManifestAsync(repo, "v1", wrongLayer, ManifestJson.OciManifest))
        {
            await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
        }

        using (var get = await Client.GetAsync($"/v2/{repo}/manifests/v1"))
        {
            OciAssert.Status(get, HttpStatusCode.NotFound);
        }

        var right = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [ManifestJson.Descriptor(ManifestJson.LayerMediaType, layer, 32)]);
        using var accepted = await Client.PutManifestAsync(repo, "v1", right, ManifestJson.OciManifest);
        OciAssert.Status(accepted, HttpStatusCode.Created);
    }

    [Fact]
    public async Task PutManifest_IndexChildSizeDiffersFromTheManifest_Returns400ManifestInvalid()
    {
        var repo = OciClient.UniqueRepo("man-wrong-child-size");
        var child = await Client.PushImageAsync(repo, "child");

        var wrong = ManifestJson.Index([ManifestJson.Platform(ManifestJson.OciManifest, child.Digest, child.Body.Length + 5)]);
        using (var response = await Client.PutManifestAsync(repo, "multi", wrong, ManifestJson.OciIndex))
        {
            await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
        }

        var right = ManifestJson.Index([ManifestJson.Platform(ManifestJson.OciManifest, child.Digest, child.Body.Length)]);
        using var accepted = await Client.PutManifestAsync(repo, "multi", right, ManifestJson.OciIndex);
        OciAssert.Status(accepted, HttpStatusCode.Created);
    }

    [Fact]
    public async Task PutManifest_InvalidJson_Returns400ManifestInvalid()
    {
        var repo = OciClient.UniqueRepo("man-bad-json");

        using var response = await Client.PutManifestAsync(repo, "v1", "{\"schemaVersion\":2,"u8.ToArray(), ManifestJson.OciManifest);
        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Fact]
    public async Task PutManifest_SameTagTwice_MovesTagToNewDigest()
    {
        var repo = OciClient.UniqueRepo("man-retag");
        var first = await Client.PushImageAsync(repo, "moving");
        using (var warm = await Client.GetAsync($"/v2/{repo}/manifests/moving"))
        {
            OciAssert.HeaderEqual(warm, "Docker-Content-Digest", first.Digest);
        }

        var second = await Client.PushImageAsync(repo, "moving");

        using var response = await Client.GetAsync($"/v2/{repo}/manifests/moving");
        OciAssert.HeaderEqual(response, "Docker-Content-Digest", second.Digest);
        using var old = await Client.GetAsync($"/v2/{repo}/manifests/{first.Digest}");
        OciAssert.Status(old, HttpStatusCode.OK);
    }

    [Fact]
    public async Task PutManifest_WithTagQuery_ReturnsOciTagHeadersAndTagsEach()
    {
        var repo = OciClient.UniqueRepo("man-tag-query");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var body = ManifestJson.Image(ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2), []);
        var digest = Digests.Sha256(body);

        using var response = await Client.PutManifestAsync(repo, $"{digest}?tag=one&tag=two", body, ManifestJson.OciManifest);
        OciAssert.Status(response, HttpStatusCode.Created);
        Assert.True(response.Headers.TryGetValues("OCI-Tag", out var values), "No OCI-Tag header: " + OciAssert.Describe(response));
        var tags = values.SelectMany(v => v.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).Order(StringComparer.Ordinal);
        Assert.Equal(["one", "two"], tags);

        foreach (var tag in new[] { "one", "two" })
        {
            using var get = await Client.GetAsync($"/v2/{repo}/manifests/{tag}");
            OciAssert.HeaderEqual(get, "Docker-Content-Digest", digest);
        }
    }

    [Fact]
    public async Task PutManifest_WithSubject_ReturnsOciSubjectHeader()
    {
        var repo = OciClient.UniqueRepo("man-subject");
        var subject = await Client.PushImageAsync(repo, "base");
        var subjectDescriptor = ManifestJson.Descriptor(ManifestJson.OciManifest, subject.Digest, subject.Body.Length);
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [],
            subject: subjectDescriptor,
            artifactType: "application/vnd.example.signature");
        var digest = Digests.Sha256(body);

        using var response = await Client.PutManifestAsync(repo, digest, body, ManifestJson.OciManifest);
        OciAssert.Status(response, HttpStatusCode.Created);
        OciAssert.HeaderEqual(response, "OCI-Subject", subject.Digest);
    }

    [Fact]
    public async Task PutManifest_WithSubjectNotYetPushed_Returns201()
    {
        // The spec lets a referrer arrive before its subject.
        var repo = OciClient.UniqueRepo("man-subject-absent");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var absent = Digests.Sha256(OciClient.RandomBytes(40));
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [],
            subject: ManifestJson.Descriptor(ManifestJson.OciManifest, absent, 40),
            artifactType: "application/vnd.example.sbom");

        using var response = await Client.PutManifestAsync(repo, Digests.Sha256(body), body, ManifestJson.OciManifest);
        OciAssert.Status(response, HttpStatusCode.Created);
        OciAssert.HeaderEqual(response, "OCI-Subject", absent);
    }

    [Fact]
    public async Task GetManifest_IfNoneMatchDigest_Returns304()
    {
        var repo = OciClient.UniqueRepo("man-etag");
        var image = await Client.PushImageAsync(repo, "latest");

        using var response = await Client.GetAsync(
            $"/v2/{repo}/manifests/latest",
            request => request.Headers.TryAddWithoutValidation("If-None-Match", $"\"{image.Digest}\""));
        OciAssert.Status(response, HttpStatusCode.NotModified);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetManifest_IfNoneMatchOtherDigest_Returns200()
    {
        var repo = OciClient.UniqueRepo("man-etag-other");
        var image = await Client.PushImageAsync(repo, "latest");

        using var response = await Client.GetAsync(
            $"/v2/{repo}/manifests/latest",
            request => request.Headers.TryAddWithoutValidation("If-None-Match", $"\"{Digests.EmptySha256}\""));
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.Equal(image.Body, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task DeleteManifest_ByDigest_Returns202AndManifestAndTagAreGone()
    {
        var repo = OciClient.UniqueRepo("man-delete");
        var image = await Client.PushImageAsync(repo, "latest");
        foreach (var reference in new[] { "latest", image.Digest })
        {
            using var warm = await Client.GetAsync($"/v2/{repo}/manifests/{reference}");
            OciAssert.Status(warm, HttpStatusCode.OK);
        }

        using (var delete = await Client.DeleteAsync($"/v2/{repo}/manifests/{image.Digest}"))
        {
            OciAssert.Status(delete, HttpStatusCode.Accepted);
        }

        using var byDigest = await Client.GetAsync($"/v2/{repo}/manifests/{image.Digest}");
        await OciAssert.ErrorAsync(byDigest, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var byTag = await Client.GetAsync($"/v2/{repo}/manifests/latest");
        await OciAssert.ErrorAsync(byTag, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task DeleteManifest_ByTag_RemovesOnlyTheTag()
    {
        var repo = OciClient.UniqueRepo("man-delete-tag");
        var image = await Client.PushImageAsync(repo, "keep");
        using (var retag = await Client.PutManifestAsync(repo, "drop", image.Body, ManifestJson.OciManifest))
        {
            OciAssert.Status(retag, HttpStatusCode.Created);
        }

        using (var delete = await Client.DeleteAsync($"/v2/{repo}/manifests/drop"))
        {
            OciAssert.Status(delete, HttpStatusCode.Accepted);
        }

        using var dropped = await Client.GetAsync($"/v2/{repo}/manifests/drop");
        await OciAssert.ErrorAsync(dropped, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var kept = await Client.GetAsync($"/v2/{repo}/manifests/keep");
        OciAssert.HeaderEqual(kept, "Docker-Content-Digest", image.Digest);
        using var byDigest = await Client.GetAsync($"/v2/{repo}/manifests/{image.Digest}");
        OciAssert.Status(byDigest, HttpStatusCode.OK);

        using var tags = await Client.GetAsync($"/v2/{repo}/tags/list");
        using var document = JsonDocument.Parse(await tags.Content.ReadAsStringAsync());
        Assert.Equal(["keep"], document.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task DeleteManifest_Missing_Returns404ManifestUnknown()
    {
        var repo = OciClient.UniqueRepo("man-delete-missing");
        await Client.PushImageAsync(repo, "latest");

        using var response = await Client.DeleteAsync($"/v2/{repo}/manifests/{Digests.Sha256(OciClient.RandomBytes(8))}");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
    }

    [Fact]
    public async Task PutManifest_Over4MiB_Returns413WithOciBody()
    {
        var repo = OciClient.UniqueRepo("man-too-big");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var padding = new string('x', (4 * 1024 * 1024) + 1024);
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [],
            annotations: $"{{\"pad\":\"{padding}\"}}");

        using var response = await Client.PutManifestAsync(repo, "big", body, ManifestJson.OciManifest);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        OciAssert.ErrorCodes(await response.Content.ReadAsStringAsync());
        using var get = await Client.GetAsync($"/v2/{repo}/manifests/big");
        OciAssert.Status(get, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task PutManifest_BadTag_Returns400TagInvalid()
    {
        var repo = OciClient.UniqueRepo("man-bad-tag");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var body = ManifestJson.Image(ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2), []);

        using var response = await Client.PutManifestAsync(repo, "-bad", body, ManifestJson.OciManifest);
        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "TAG_INVALID");
    }
}
