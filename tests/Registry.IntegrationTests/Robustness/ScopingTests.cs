using System.Net;
using System.Text.Json;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>Content, tags and referrers belong to one repository; names and tags compare case-sensitively.</summary>
public sealed class ScopingTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task PutManifest_LayerOnlyInOtherRepo_Returns4xxManifestBlobUnknown()
    {
        var owner = OciClient.UniqueRepo("scope-owner");
        var other = OciClient.UniqueRepo("scope-other");
        var layer = OciClient.RandomBytes(80);
        var layerDigest = await Client.PushBlobAsync(owner, layer);
        var config = await Client.PushBlobAsync(other, ManifestJson.EmptyConfig);
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [ManifestJson.Descriptor(ManifestJson.LayerMediaType, layerDigest, layer.Length)]);

        using var put = await Client.PutManifestAsync(other, "v1", body, ManifestJson.OciManifest);
        var status = put.StatusCode == HttpStatusCode.NotFound ? HttpStatusCode.NotFound : HttpStatusCode.BadRequest;
        await OciAssert.ErrorAsync(put, status, "MANIFEST_BLOB_UNKNOWN");
    }

    [Fact]
    public async Task PutIndex_ChildOnlyInOtherRepo_Returns4xxManifestBlobUnknown()
    {
        var owner = OciClient.UniqueRepo("scope-idx-owner");
        var other = OciClient.UniqueRepo("scope-idx-other");
        var child = await Client.PushImageAsync(owner, "child");
        var index = ManifestJson.Index([ManifestJson.Platform(ManifestJson.OciManifest, child.Digest, child.Body.Length)]);

        using var put = await Client.PutManifestAsync(other, "multi", index, ManifestJson.OciIndex);
        var status = put.StatusCode == HttpStatusCode.NotFound ? HttpStatusCode.NotFound : HttpStatusCode.BadRequest;
        await OciAssert.ErrorAsync(put, status, "MANIFEST_BLOB_UNKNOWN");
    }

    [Fact]
    public async Task GetManifest_DigestOnlyInOtherRepo_Returns404ManifestUnknown()
    {
        var owner = OciClient.UniqueRepo("scope-man-owner");
        var other = OciClient.UniqueRepo("scope-man-other");
        var image = await Client.PushImageAsync(owner, "latest");
        await Client.PushImageAsync(other, "latest");

        // Read it where it lives first, so any cache keyed by digest is warm.
        using (var warm = await Client.GetAsync($"/v2/{owner}/manifests/{image.Digest}"))
        {
            OciAssert.Status(warm, HttpStatusCode.OK);
        }

        using var get = await Client.GetAsync($"/v2/{other}/manifests/{image.Digest}");
        await OciAssert.ErrorAsync(get, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var head = await Client.HeadAsync($"/v2/{other}/manifests/{image.Digest}");
        OciAssert.Status(head, HttpStatusCode.NotFound);
        using var conditional = await Client.GetAsync(
            $"/v2/{other}/manifests/{image.Digest}",
            request => request.Headers.TryAddWithoutValidation("If-None-Match", $"\"{image.Digest}\""));
        OciAssert.Status(conditional, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task GetReferrers_ReferrerInOtherRepo_IsNotListed()
    {
        var owner = OciClient.UniqueRepo("scope-ref-owner");
        var other = OciClient.UniqueRepo("scope-ref-other");
        var subject = await Client.PushImageAsync(owner, "base");
        await Client.PushImageAsync(other, "base", new ImageShape { Layer = subject.Layer });
        await Client.PushImageAsync(
            owner,
            "sig",
            new ImageShape
            {
                ArtifactType = "application/vnd.example.signature",
                Subject = ManifestJson.Descriptor(ManifestJson.OciManifest, subject.Digest, subject.Body.Length),
            });

        using var response = await Client.GetAsync($"/v2/{other}/referrers/{subject.Digest}");
        OciAssert.Status(response, HttpStatusCode.OK);
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Empty(document.RootElement.GetProperty("manifests").EnumerateArray());
    }

    [Fact]
    public async Task Tags_DifferingOnlyInCase_AreDistinct()
    {
        var repo = OciClient.UniqueRepo("scope-case");
        var lower = await Client.PushImageAsync(repo, "latest");
        var upper = await Client.PushImageAsync(repo, "Latest");

        using var getLower = await Client.GetAsync($"/v2/{repo}/manifests/latest");
        OciAssert.HeaderEqual(getLower, "Docker-Content-Digest", lower.Digest);
        using var getUpper = await Client.GetAsync($"/v2/{repo}/manifests/Latest");
        OciAssert.HeaderEqual(getUpper, "Docker-Content-Digest", upper.Digest);
        using var tags = await Client.GetAsync($"/v2/{repo}/tags/list");
        Assert.Equal(["Latest", "latest"], (await ListPage.ReadAsync(tags, "tags")).Items);
    }

    [Fact]
    public async Task Tags_NestedRepos_DoNotLeakIntoEachOther()
    {
        var parent = OciClient.UniqueRepo("scope-nest");
        var child = parent + "/child";
        var sibling = parent + "-x";
        await Client.PushImageAsync(parent, "p");
        await Client.PushImageAsync(child, "c");
        await Client.PushImageAsync(sibling, "s");

        using var tags = await Client.GetAsync($"/v2/{parent}/tags/list");
        Assert.Equal(["p"], (await ListPage.ReadAsync(tags, "tags")).Items);
        using var childTags = await Client.GetAsync($"/v2/{child}/tags/list");
        Assert.Equal(["c"], (await ListPage.ReadAsync(childTags, "tags")).Items);
    }

    [Fact]
    public async Task DeleteManifest_ByDigest_RemovesItsTagsFromList()
    {
        var repo = OciClient.UniqueRepo("scope-deltags");
        var keep = await Client.PushImageAsync(repo, "keep");
        var drop = await Client.PushImageAsync(repo, "drop");
        using (var warm = await Client.GetAsync($"/v2/{repo}/manifests/drop"))
        {
            OciAssert.Status(warm, HttpStatusCode.OK);
        }

        using (var delete = await Client.DeleteAsync($"/v2/{repo}/manifests/{drop.Digest}"))
        {
            OciAssert.Status(delete, HttpStatusCode.Accepted);
        }

        using var tags = await Client.GetAsync($"/v2/{repo}/tags/list");
        Assert.Equal(["keep"], (await ListPage.ReadAsync(tags, "tags")).Items);
        using var gone = await Client.GetAsync($"/v2/{repo}/manifests/{drop.Digest}");
        await OciAssert.ErrorAsync(gone, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        using var goneTag = await Client.HeadAsync($"/v2/{repo}/manifests/drop");
        OciAssert.Status(goneTag, HttpStatusCode.NotFound);
        using var kept = await Client.GetAsync($"/v2/{repo}/manifests/keep");
        OciAssert.HeaderEqual(kept, "Docker-Content-Digest", keep.Digest);
    }

    [Fact]
    public async Task PutManifest_InvalidTagQuery_Returns400TagInvalid()
    {
        var repo = OciClient.UniqueRepo("scope-tagq");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var body = ManifestJson.Image(ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2), []);

        using var put = await Client.PutManifestAsync(repo, $"{Digests.Sha256(body)}?tag=.bad", body, ManifestJson.OciManifest);
        await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "TAG_INVALID");
    }

    [Fact]
    public async Task GetReferrers_FilterMatchingNothing_Returns200EmptyWithFiltersHeader()
    {
        var repo = OciClient.UniqueRepo("scope-ref-none");
        var subject = await Client.PushImageAsync(repo, "base");

        using var response = await Client.GetAsync($"/v2/{repo}/referrers/{subject.Digest}?artifactType=application%2Fvnd.none");
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.HeaderEqual(response, "OCI-Filters-Applied", "artifactType");
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Empty(document.RootElement.GetProperty("manifests").EnumerateArray());
    }

    [Fact]
    public async Task MountSha512Blob_FromRepoHoldingIt_Returns201()
    {
        var source = OciClient.UniqueRepo("scope-m512-src");
        var target = OciClient.UniqueRepo("scope-m512-dst");
        var data = OciClient.RandomBytes(90);
        var digest = Digests.Sha512(data);
        var location = await Client.StartUploadAsync(source);
        using (var put = await Client.PutUploadAsync(location, digest, data))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var mount = await Client.PostUploadAsync(target, $"mount={digest}&from={source}");
        OciAssert.Status(mount, HttpStatusCode.Created);
        Assert.Equal($"/v2/{target}/blobs/{digest}", OciAssert.Location(mount, "/v2/"));
    }
}
