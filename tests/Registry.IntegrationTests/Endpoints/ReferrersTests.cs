using System.Net;
using System.Text.Json;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Endpoints;

/// <summary>end-12a and end-12b: GET /v2/&lt;name&gt;/referrers/&lt;digest&gt;.</summary>
public sealed class ReferrersTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    private const string SignatureType = "application/vnd.example.signature";
    private const string SbomType = "application/vnd.example.sbom";

    [Fact]
    public async Task GetReferrers_WithReferrers_ReturnsOciIndexOfDescriptors()
    {
        var repo = OciClient.UniqueRepo("ref-list");
        var subject = await Client.PushImageAsync(repo, "base");
        var signature = await PushReferrerAsync(repo, subject, SignatureType, "{\"k\":\"sig\"}");
        var sbom = await PushReferrerAsync(repo, subject, SbomType, null);

        using var response = await Client.GetAsync($"/v2/{repo}/referrers/{subject.Digest}");
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.Equal(ManifestJson.OciIndex, response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var root = document.RootElement;
        Assert.Equal(2, root.GetProperty("schemaVersion").GetInt32());
        Assert.Equal(ManifestJson.OciIndex, root.GetProperty("mediaType").GetString());
        var manifests = root.GetProperty("manifests").EnumerateArray().ToList();
        Assert.Equal(2, manifests.Count);

        var bySignature = Assert.Single(manifests, m => m.GetProperty("digest").GetString() == Digests.Sha256(signature));
        Assert.Equal(ManifestJson.OciManifest, bySignature.GetProperty("mediaType").GetString());
        Assert.Equal(signature.Length, bySignature.GetProperty("size").GetInt64());
        Assert.Equal(SignatureType, bySignature.GetProperty("artifactType").GetString());
        Assert.Equal("sig", bySignature.GetProperty("annotations").GetProperty("k").GetString());

        var bySbom = Assert.Single(manifests, m => m.GetProperty("digest").GetString() == Digests.Sha256(sbom));
        Assert.Equal(SbomType, bySbom.GetProperty("artifactType").GetString());
    }

    [Fact]
    public async Task GetReferrers_ArtifactTypeFilter_ReturnsMatchesAndFiltersHeader()
    {
        var repo = OciClient.UniqueRepo("ref-filter");
        var subject = await Client.PushImageAsync(repo, "base");
        var signature = await PushReferrerAsync(repo, subject, SignatureType, null);
        await PushReferrerAsync(repo, subject, SbomType, null);

        using var response = await Client.GetAsync($"/v2/{repo}/referrers/{subject.Digest}?artifactType={Uri.EscapeDataString(SignatureType)}");
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.HeaderEqual(response, "OCI-Filters-Applied", "artifactType");
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var only = Assert.Single(document.RootElement.GetProperty("manifests").EnumerateArray());
        Assert.Equal(Digests.Sha256(signature), only.GetProperty("digest").GetString());
    }

    [Fact]
    public async Task GetReferrers_ConfigMediaTypeArtifact_UsesConfigTypeAsArtifactType()
    {
        var repo = OciClient.UniqueRepo("ref-config-type");
        var subject = await Client.PushImageAsync(repo, "base");
        var referrer = await Client.PushImageAsync(
            repo,
            "sig-by-config",
            new ImageShape
            {
                ConfigMediaType = "application/vnd.example.config.v1+json",
                Subject = ManifestJson.Descriptor(ManifestJson.OciManifest, subject.Digest, subject.Body.Length),
            });

        using var response = await Client.GetAsync($"/v2/{repo}/referrers/{subject.Digest}");
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var only = Assert.Single(document.RootElement.GetProperty("manifests").EnumerateArray());
        Assert.Equal(referrer.Digest, only.GetProperty("digest").GetString());
        Assert.Equal("application/vnd.example.config.v1+json", only.GetProperty("artifactType").GetString());
    }

    [Fact]
    public async Task GetReferrers_UnknownSubject_Returns200WithEmptyManifests()
    {
        var repo = OciClient.UniqueRepo("ref-empty");
        await Client.PushImageAsync(repo, "base");

        using var response = await Client.GetAsync($"/v2/{repo}/referrers/{Digests.Sha256(OciClient.RandomBytes(8))}");
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.Equal(ManifestJson.OciIndex, response.Content.Headers.ContentType?.MediaType);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(2, document.RootElement.GetProperty("schemaVersion").GetInt32());
        Assert.Empty(document.RootElement.GetProperty("manifests").EnumerateArray());
    }

    [Fact]
    public async Task GetReferrers_AfterReferrerDeleted_OmitsIt()
    {
        var repo = OciClient.UniqueRepo("ref-delete");
        var subject = await Client.PushImageAsync(repo, "base");
        var signature = await PushReferrerAsync(repo, subject, SignatureType, null);

        using (var delete = await Client.DeleteAsync($"/v2/{repo}/manifests/{Digests.Sha256(signature)}"))
        {
            OciAssert.Status(delete, HttpStatusCode.Accepted);
        }

        using var response = await Client.GetAsync($"/v2/{repo}/referrers/{subject.Digest}");
        OciAssert.Status(response, HttpStatusCode.OK);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Empty(document.RootElement.GetProperty("manifests").EnumerateArray());
    }

    [Fact]
    public async Task GetReferrers_IndexReferrer_IsListed()
    {
        var repo = OciClient.UniqueRepo("ref-index");
        var subject = await Client.PushImageAsync(repo, "base");
        var body = ManifestJson.Index(
            [],
            subject: ManifestJson.Descriptor(ManifestJson.OciManifest, subject.Digest, subject.Body.Length),
            artifactType: "application/vnd.example.bundle");
        using (var put = await Client.PutManifestAsync(repo, Digests.Sha256(body), body, ManifestJson.OciIndex))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var response = await Client.GetAsync($"/v2/{repo}/referrers/{subject.Digest}");
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var only = Assert.Single(document.RootElement.GetProperty("manifests").EnumerateArray());
        Assert.Equal(ManifestJson.OciIndex, only.GetProperty("mediaType").GetString());
        Assert.Equal("application/vnd.example.bundle", only.GetProperty("artifactType").GetString());
    }

    [Fact]
    public async Task GetReferrers_LargerThanOnePage_IsPagedWithLinkHeaders_KeepingTheFilter()
    {
        // Three referrers with 1.5 MiB of annotations each: 4.5 MiB of descriptors, more than one page
        // (and, together, once more than a gRPC message could carry), plus one of another type.
        var repo = OciClient.UniqueRepo("ref-pages");
        var subject = await Client.PushImageAsync(repo, "base");
        var large = "{\"note\":\"" + new string('x', 1536 * 1024) + "\"}";
        var expected = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < 3; i++)
        {
            expected.Add(Digests.Sha256(await PushReferrerAsync(repo, subject, SignatureType, large.Replace("{", "{\"i\":\"" + i + "\",", StringComparison.Ordinal))));
        }

        await PushReferrerAsync(repo, subject, SbomType, null);

        var seen = new List<string>();
        var pages = 0;
        string? next = $"/v2/{repo}/referrers/{subject.Digest}?artifactType={Uri.EscapeDataString(SignatureType)}";
        while (next is not null && pages < 10)
        {
            using var response = await Client.GetAsync(next);
            OciAssert.Status(response, HttpStatusCode.OK);
            OciAssert.HeaderEqual(response, "OCI-Filters-Applied", "artifactType");
            pages++;
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var manifests = document.RootElement.GetProperty("manifests").EnumerateArray().ToList();
            Assert.NotEmpty(manifests);
            seen.AddRange(manifests.Select(m => m.GetProperty("digest").GetString()!));
            next = response.Headers.TryGetValues("Link", out var links)
                ? links.Single().Split('<', '>')[1]
                : null;
        }

        Assert.True(pages > 1, "4.5 MiB of referrers came in one page");
        Assert.Equal(expected.Order(StringComparer.Ordinal), seen);
    }

    [Fact]
    public async Task GetReferrers_AnnotationsOfThreeByteCharacters_PageByBytesNotCharacters()
    {
        // Three referrers with 1.2 million CJK characters each: 3.6 MB of UTF-8 apiece, under the page
        // budget counted in characters but three times a gRPC message counted in bytes.
        var repo = OciClient.UniqueRepo("ref-cjk");
        var subject = await Client.PushImageAsync(repo, "base");
        var expected = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var note = "{\"i\":\"" + i + "\",\"note\":\"" + new string('\u4e2d', 1_200_000) + "\"}";
            expected.Add(Digests.Sha256(await PushReferrerAsync(repo, subject, SignatureType, note)));
        }

        var seen = new List<string>();
        string? next = $"/v2/{repo}/referrers/{subject.Digest}";
        for (var pages = 0; next is not null && pages < 10; pages++)
        {
            using var response = await Client.GetAsync(next);
            OciAssert.Status(response, HttpStatusCode.OK);
            using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            seen.AddRange(document.RootElement.GetProperty("manifests").EnumerateArray().Select(m => m.GetProperty("digest").GetString()!));
            next = response.Headers.TryGetValues("Link", out var links) ? links.Single().Split('<', '>')[1] : null;
        }

        Assert.Equal(expected.Order(StringComparer.Ordinal), seen);
    }

    [Fact]
    public async Task PutReferrer_SubjectSizeDiffersFromTheStoredSubject_Returns400ManifestInvalid()
    {
        var repo = OciClient.UniqueRepo("ref-subject-size");
        var subject = await Client.PushImageAsync(repo, "base");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var layer = await Client.PushBlobAsync(repo, OciClient.RandomBytes(20));
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [ManifestJson.Descriptor("application/octet-stream", layer, 20)],
            subject: ManifestJson.Descriptor(ManifestJson.OciManifest, subject.Digest, subject.Body.Length + 100),
            artifactType: SignatureType);

        using var response = await Client.PutManifestAsync(repo, Digests.Sha256(body), body, ManifestJson.OciManifest);

        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    private async Task<byte[]> PushReferrerAsync(string repo, PushedManifest subject, string artifactType, string? annotations)
    {
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var layer = await Client.PushBlobAsync(repo, OciClient.RandomBytes(20));
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [ManifestJson.Descriptor("application/octet-stream", layer, 20)],
            subject: ManifestJson.Descriptor(ManifestJson.OciManifest, subject.Digest, subject.Body.Length),
            artifactType: artifactType,
            annotations: annotations);
        using var response = await Client.PutManifestAsync(repo, Digests.Sha256(body), body, ManifestJson.OciManifest);
        OciAssert.Status(response, HttpStatusCode.Created);
        return body;
    }
}
