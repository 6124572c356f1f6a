using System.Net;
using System.Text;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Cases;

/// <summary>BL-08, BL-09 and BL-16 of shared/cases/http-cases.md: negotiation, HEAD, media types.</summary>
public sealed class ManifestCaseTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    private const string DockerConfig = "application/vnd.docker.container.image.v1+json";
    private const string DockerLayer = "application/vnd.docker.image.rootfs.diff.tar.gzip";

    private static readonly (string Name, string[] Accept)[] AcceptVariants =
    [
        ("no Accept", []),
        ("*/*", ["*/*"]),
        ("docker v2 only", [ManifestJson.DockerManifest]),
        ("q-params", ["application/vnd.oci.image.index.v1+json;q=0.9", ManifestJson.OciManifest]),
    ];

    [Fact]
    public async Task BL08_OciManifest_AnyAccept_ReturnsStoredBytes()
    {
        var repo = OciClient.UniqueRepo("bl08-single");
        var image = await Client.PushImageAsync(repo, "single");
        await AssertStoredWhateverAcceptAsync(repo, "single", image.Body, ManifestJson.OciManifest);
    }

    [Fact]
    public async Task BL08_OciIndex_AnyAccept_ReturnsIndexNotPlatformChild()
    {
        var repo = OciClient.UniqueRepo("bl08-multi");
        var child = await Client.PushImageAsync(repo, "child");
        var index = ManifestJson.Index([ManifestJson.Platform(ManifestJson.OciManifest, child.Digest, child.Body.Length)]);
        using (var put = await Client.PutManifestAsync(repo, "multi", index, ManifestJson.OciIndex))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        await AssertStoredWhateverAcceptAsync(repo, "multi", index, ManifestJson.OciIndex);
    }

    [Fact]
    public async Task BL08_DockerManifestList_AnyAccept_ReturnsListNotPlatformChild()
    {
        var repo = OciClient.UniqueRepo("bl08-dlist");
        var child = await PushDockerManifestAsync(repo);
        var list = ManifestJson.Index(
            [ManifestJson.Platform(ManifestJson.DockerManifest, Digests.Sha256(child), child.Length)],
            ManifestJson.DockerManifestList);
        using (var put = await Client.PutManifestAsync(repo, "dlist", list, ManifestJson.DockerManifestList))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        await AssertStoredWhateverAcceptAsync(repo, "dlist", list, ManifestJson.DockerManifestList);
    }

    [Fact]
    public async Task BL08_TwoSeparateAcceptHeaders_ReturnStoredManifest()
    {
        var repo = OciClient.UniqueRepo("bl08-two-accept");
        var image = await Client.PushImageAsync(repo, "single");

        var response = await RawHttp.SendAsync(
            Client.BaseAddress,
            "GET",
            $"/v2/{repo}/manifests/single",
            "Accept: " + ManifestJson.DockerManifest,
            "Accept: " + ManifestJson.OciManifest);
        Assert.Equal(200, response.Status);
        Assert.Equal(image.Digest, response.Header("Docker-Content-Digest"));
        Assert.Equal(ManifestJson.OciManifest, response.Header("Content-Type"));
    }

    [Fact]
    public async Task BL08_IfNoneMatchStoredDigest_Returns304()
    {
        var repo = OciClient.UniqueRepo("bl08-inm");
        var child = await Client.PushImageAsync(repo, "single");
        var index = ManifestJson.Index([ManifestJson.Platform(ManifestJson.OciManifest, child.Digest, child.Body.Length)]);
        using (var put = await Client.PutManifestAsync(repo, "multi", index, ManifestJson.OciIndex))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        foreach (var (tag, digest) in new[] { ("single", child.Digest), ("multi", Digests.Sha256(index)) })
        {
            using var response = await Client.GetAsync(
                $"/v2/{repo}/manifests/{tag}",
                request => request.Headers.TryAddWithoutValidation("If-None-Match", $"\"{digest}\""));
            OciAssert.Status(response, HttpStatusCode.NotModified);
        }
    }

    [Fact]
    public async Task BL09_HeadBlob_ExactLengthDigestTypeAndNoBody()
    {
        var repo = OciClient.UniqueRepo("bl09-blob");
        var data = OciClient.RandomBytes(4321);
        var digest = await Client.PushBlobAsync(repo, data);

        var head = await RawHttp.SendAsync(Client.BaseAddress, "HEAD", $"/v2/{repo}/blobs/{digest}");
        Assert.Equal(200, head.Status);
        Assert.Equal("4321", head.Header("Content-Length"));
        Assert.Equal(digest, head.Header("Docker-Content-Digest"));
        Assert.False(string.IsNullOrEmpty(head.Header("Content-Type")), "HEAD blob has no Content-Type");
        Assert.Null(head.Header("Transfer-Encoding"));
        Assert.Empty(head.Body);
    }

    [Fact]
    public async Task BL09_HeadManifestByTagAndDigest_MatchesGetHeaders()
    {
        var repo = OciClient.UniqueRepo("bl09-manifest");
        var image = await Client.PushImageAsync(repo, "latest");

        foreach (var reference in new[] { "latest", image.Digest })
        {
            var head = await RawHttp.SendAsync(Client.BaseAddress, "HEAD", $"/v2/{repo}/manifests/{reference}");
            Assert.Equal(200, head.Status);
            Assert.Equal(image.Body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), head.Header("Content-Length"));
            Assert.Equal(image.Digest, head.Header("Docker-Content-Digest"));
            Assert.Equal(ManifestJson.OciManifest, head.Header("Content-Type"));
            Assert.Null(head.Header("Transfer-Encoding"));
            Assert.Empty(head.Body);
        }
    }

    [Fact]
    public async Task BL09_HeadMissingBlobAndManifest_Returns404WithoutBody()
    {
        var repo = OciClient.UniqueRepo("bl09-missing");
        await Client.PushImageAsync(repo, "latest");
        var missing = Digests.Sha256(OciClient.RandomBytes(8));

        foreach (var path in new[] { $"/v2/{repo}/blobs/{missing}", $"/v2/{repo}/manifests/{missing}", $"/v2/{repo}/manifests/absent" })
        {
            var head = await RawHttp.SendAsync(Client.BaseAddress, "HEAD", path);
            Assert.Equal(404, head.Status);
            Assert.Empty(head.Body);
        }
    }

    [Fact]
    public async Task BL09_HeadBlobOnlyInOtherRepo_Returns404()
    {
        var owner = OciClient.UniqueRepo("bl09-owner");
        var other = OciClient.UniqueRepo("bl09-other");
        var digest = await Client.PushBlobAsync(owner, OciClient.RandomBytes(99));
        await Client.PushBlobAsync(other, OciClient.RandomBytes(99));

        using var head = await Client.HeadAsync($"/v2/{other}/blobs/{digest}");
        OciAssert.Status(head, HttpStatusCode.NotFound);
        using var get = await Client.GetAsync($"/v2/{other}/blobs/{digest}");
        await OciAssert.ErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task BL16_HelmStyleNoMediaTypeField_UsesContentType()
    {
        var repo = OciClient.UniqueRepo("bl16-helm");
        var config = Encoding.UTF8.GetBytes("{\"name\":\"chart\",\"version\":\"0.1.0\"}");
        var configDigest = await Client.PushBlobAsync(repo, config);
        var chart = OciClient.RandomBytes(200);
        var chartDigest = await Client.PushBlobAsync(repo, chart);
        var body = ManifestJson.Image(
            ManifestJson.Descriptor("application/vnd.cncf.helm.config.v1+json", configDigest, config.Length),
            [ManifestJson.Descriptor("application/vnd.cncf.helm.chart.content.v1.tar+gzip", chartDigest, chart.Length)],
            mediaTypeField: null);

        using (var put = await Client.PutManifestAsync(repo, "0.1.0", body, ManifestJson.OciManifest))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var get = await Client.GetAsync($"/v2/{repo}/manifests/0.1.0");
        OciAssert.Status(get, HttpStatusCode.OK);
        Assert.Equal(ManifestJson.OciManifest, get.Content.Headers.ContentType?.ToString());
        Assert.Equal(body, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task BL16_MediaTypeFieldDisagreesWithContentType_Returns400ManifestInvalid()
    {
        var repo = OciClient.UniqueRepo("bl16-disagree");
        var body = await EmptyImageAsync(repo, ManifestJson.OciManifest);

        using var put = await Client.PutManifestAsync(repo, "v1", body, ManifestJson.DockerManifest);
        await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Fact]
    public async Task BL16_ContentTypeWithParameters_IsAcceptedAndServedWithout()
    {
        var repo = OciClient.UniqueRepo("bl16-params");
        var body = await EmptyImageAsync(repo, ManifestJson.OciManifest);

        using (var put = await Client.PutManifestAsync(repo, "v1", body, ManifestJson.OciManifest + "; charset=utf-8"))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var get = await Client.GetAsync($"/v2/{repo}/manifests/v1");
        OciAssert.Status(get, HttpStatusCode.OK);
        Assert.Equal(ManifestJson.OciManifest, get.Content.Headers.ContentType?.ToString());
    }

    [Fact]
    public async Task BL16_NoContentTypeAndNoMediaType_Returns400ManifestInvalid()
    {
        var repo = OciClient.UniqueRepo("bl16-none");
        var body = await EmptyImageAsync(repo, mediaTypeField: null);

        using var put = await Client.PutManifestAsync(repo, "v1", body, contentType: null);
        await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    [Fact]
    public async Task BL16_UnknownJsonFields_AreAcceptedAndPreserved()
    {
        var repo = OciClient.UniqueRepo("bl16-custom");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [],
            extraMembers: "\"custom\":{\"nested\":[1,\"two\",null]},\"zz\":true");

        using (var put = await Client.PutManifestAsync(repo, "v1", body, ManifestJson.OciManifest))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var get = await Client.GetAsync($"/v2/{repo}/manifests/v1");
        Assert.Equal(body, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task BL16_Exactly4MiBManifest_Returns201()
    {
        var repo = OciClient.UniqueRepo("bl16-4mib");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var descriptor = ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2);
        var overhead = ManifestJson.Image(descriptor, [], annotations: "{\"pad\":\"\"}").Length;
        var padding = new string('x', (4 * 1024 * 1024) - overhead);
        var body = ManifestJson.Image(descriptor, [], annotations: $"{{\"pad\":\"{padding}\"}}");
        Assert.Equal(4 * 1024 * 1024, body.Length);

        using (var put = await Client.PutManifestAsync(repo, "big", body, ManifestJson.OciManifest))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var get = await Client.GetAsync($"/v2/{repo}/manifests/big");
        Assert.Equal(body, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task BL16_OverLimitManifest_Returns413WithOciBody()
    {
        var repo = OciClient.UniqueRepo("bl16-413");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var padding = new string('x', 4 * 1024 * 1024);
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2), [], annotations: $"{{\"pad\":\"{padding}\"}}");

        using var put = await Client.PutManifestAsync(repo, "big", body, ManifestJson.OciManifest);
        Assert.True(put.StatusCode == HttpStatusCode.RequestEntityTooLarge, "Expected 413: " + OciAssert.Describe(put));
        Assert.Equal("application/json", put.Content.Headers.ContentType?.MediaType);
        OciAssert.ErrorCodes(await put.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task BL16_DockerSchema1_Returns400ManifestInvalid()
    {
        var repo = OciClient.UniqueRepo("bl16-schema1");
        var body = Encoding.UTF8.GetBytes(
            "{\"schemaVersion\":1,\"name\":\"" + repo + "\",\"tag\":\"v1\",\"architecture\":\"amd64\","
            + "\"fsLayers\":[{\"blobSum\":\"" + Digests.EmptySha256 + "\"}],\"history\":[{\"v1Compatibility\":\"{}\"}],"
            + "\"signatures\":[]}");

        using var put = await Client.PutManifestAsync(repo, "v1", body, ManifestJson.DockerSchema1Signed);
        await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "MANIFEST_INVALID");
    }

    private async Task AssertStoredWhateverAcceptAsync(string repo, string tag, byte[] body, string mediaType)
    {
        var digest = Digests.Sha256(body);
        foreach (var (name, accept) in AcceptVariants)
        {
            void Configure(HttpRequestMessage request)
            {
                foreach (var value in accept)
                {
                    request.Headers.TryAddWithoutValidation("Accept", value);
                }
            }

            using var get = await Client.GetAsync($"/v2/{repo}/manifests/{tag}", Configure);
            Assert.True(get.StatusCode == HttpStatusCode.OK, $"GET with {name}: {OciAssert.Describe(get)}");
            Assert.True(mediaType == get.Content.Headers.ContentType?.ToString(), $"GET with {name}: {OciAssert.Describe(get)}");
            Assert.True(digest == OciAssert.Header(get, "Docker-Content-Digest"), $"GET with {name}: {OciAssert.Describe(get)}");
            Assert.Equal(body, await get.Content.ReadAsByteArrayAsync());

            using var head = await Client.HeadAsync($"/v2/{repo}/manifests/{tag}", Configure);
            Assert.True(head.StatusCode == HttpStatusCode.OK, $"HEAD with {name}: {OciAssert.Describe(head)}");
            Assert.True(mediaType == head.Content.Headers.ContentType?.ToString(), $"HEAD with {name}: {OciAssert.Describe(head)}");
            Assert.True(digest == OciAssert.Header(head, "Docker-Content-Digest"), $"HEAD with {name}: {OciAssert.Describe(head)}");
            Assert.True(body.Length == head.Content.Headers.ContentLength, $"HEAD with {name}: {OciAssert.Describe(head)}");
        }
    }

    private async Task<byte[]> PushDockerManifestAsync(string repo)
    {
        var config = Encoding.UTF8.GetBytes("{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}");
        var configDigest = await Client.PushBlobAsync(repo, config);
        var layer = OciClient.RandomBytes(128);
        var layerDigest = await Client.PushBlobAsync(repo, layer);
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(DockerConfig, configDigest, config.Length),
            [ManifestJson.Descriptor(DockerLayer, layerDigest, layer.Length)],
            ManifestJson.DockerManifest);
        using var put = await Client.PutManifestAsync(repo, Digests.Sha256(body), body, ManifestJson.DockerManifest);
        OciAssert.Status(put, HttpStatusCode.Created);
        return body;
    }

    private async Task<byte[]> EmptyImageAsync(string repo, string? mediaTypeField)
    {
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        return ManifestJson.Image(ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2), [], mediaTypeField);
    }
}
