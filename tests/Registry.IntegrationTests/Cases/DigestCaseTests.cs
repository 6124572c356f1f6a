using System.Net;
using System.Text;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Cases;

/// <summary>BL-05 to BL-07 of shared/cases/http-cases.md: digest validation and algorithms.</summary>
public sealed class DigestCaseTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task BL05_ManifestPutDigestMismatch_Returns400DigestInvalid_AndStoresNothing()
    {
        var repo = OciClient.UniqueRepo("bl05-mismatch");
        var body = await ManifestBodyAsync(repo);
        var other = Digests.Sha256(Encoding.UTF8.GetBytes("different bytes"));

        using (var put = await Client.PutManifestAsync(repo, other, body, ManifestJson.OciManifest))
        {
            await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        }

        using var byReference = await Client.GetAsync($"/v2/{repo}/manifests/{other}");
        OciAssert.Status(byReference, HttpStatusCode.NotFound);
        using var byContent = await Client.GetAsync($"/v2/{repo}/manifests/{Digests.Sha256(body)}");
        OciAssert.Status(byContent, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task BL05_ManifestPutMalformedDigest_Returns400DigestInvalid()
    {
        var repo = OciClient.UniqueRepo("bl05-malformed");
        var body = await ManifestBodyAsync(repo);

        using var put = await Client.PutManifestAsync(repo, "sha256:baddigeststring", body, ManifestJson.OciManifest);
        await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task BL05_ManifestGetMalformedDigest_Returns400Or404Json_Never500()
    {
        var repo = OciClient.UniqueRepo("bl05-get-malformed");
        await Client.PushImageAsync(repo, "latest");

        using var get = await Client.GetAsync($"/v2/{repo}/manifests/sha256:baddigeststring");
        if (get.StatusCode == HttpStatusCode.NotFound)
        {
            await OciAssert.ErrorAsync(get, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
        }
        else
        {
            await OciAssert.ErrorAsync(get, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        }
    }

    [Fact]
    public async Task BL05_ManifestPutByMatchingDigest_StoresExactBytes()
    {
        var repo = OciClient.UniqueRepo("bl05-exact");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);

        // Odd whitespace, key order and an unknown member: the registry must keep every byte.
        var body = Encoding.UTF8.GetBytes(
            "{\n  \"layers\" : [ ],\n\t\"config\": " + ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2)
            + ",   \"schemaVersion\":2, \"mediaType\": \"" + ManifestJson.OciManifest + "\",\"x-custom\":{\"b\":1,\"a\":2}\r\n}\n");
        var digest = Digests.Sha256(body);

        using (var put = await Client.PutManifestAsync(repo, digest, body, ManifestJson.OciManifest))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
            Assert.Equal($"/v2/{repo}/manifests/{digest}", OciAssert.Location(put, "/v2/"));
            OciAssert.HeaderEqual(put, "Docker-Content-Digest", digest);
        }

        using var get = await Client.GetAsync($"/v2/{repo}/manifests/{digest}");
        OciAssert.Status(get, HttpStatusCode.OK);
        Assert.Equal(body, await get.Content.ReadAsByteArrayAsync());
        OciAssert.HeaderEqual(get, "Docker-Content-Digest", digest);
    }

    [Fact]
    public async Task BL06_Sha512ChunkedUploadWithAlgorithmHint_Returns201WithSha512Digest()
    {
        var repo = OciClient.UniqueRepo("bl06-hint");
        var data = OciClient.RandomBytes(5000);
        var digest = Digests.Sha512(data);
        var location = await Client.StartUploadAsync(repo, "digest-algorithm=sha512");

        location = await Client.PatchAcceptedAsync(repo, location, data, "0-4999");

        using var put = await Client.PutUploadAsync(location, digest);
        OciAssert.Status(put, HttpStatusCode.Created);
        OciAssert.HeaderEqual(put, "Docker-Content-Digest", digest);
        Assert.Equal($"/v2/{repo}/blobs/{digest}", OciAssert.Location(put, "/v2/"));
    }

    [Fact]
    public async Task BL06_Sha512MonolithicWithoutHint_Returns201()
    {
        var repo = OciClient.UniqueRepo("bl06-mono");
        var data = OciClient.RandomBytes(700);
        var digest = Digests.Sha512(data);
        var location = await Client.StartUploadAsync(repo);

        using (var put = await Client.PutUploadAsync(location, digest, data))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
            OciAssert.HeaderEqual(put, "Docker-Content-Digest", digest);
        }

        using var head = await Client.HeadAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(head, HttpStatusCode.OK);
        OciAssert.ContentLength(head, data.Length);
        OciAssert.HeaderEqual(head, "Docker-Content-Digest", digest);

        using var get = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task BL06_Sha512ChunkedWithoutHint_Returns201()
    {
        var repo = OciClient.UniqueRepo("bl06-chunk-nohint");
        var data = OciClient.RandomBytes(2000);
        var digest = Digests.Sha512(data);
        var location = await Client.StartUploadAsync(repo);

        location = await Client.PatchAcceptedAsync(repo, location, data[..1000], "0-999");

        using var put = await Client.PutUploadAsync(location, digest, data[1000..], "1000-1999");
        OciAssert.Status(put, HttpStatusCode.Created);
        OciAssert.HeaderEqual(put, "Docker-Content-Digest", digest);
    }

    [Fact]
    public async Task BL06_Sha512Manifest_PutAndGetBySameReference()
    {
        var repo = OciClient.UniqueRepo("bl06-manifest");
        var layer = OciClient.RandomBytes(300);
        var config = ManifestJson.EmptyConfig;
        var layerDigest = Digests.Sha512(layer);
        var configDigest = Digests.Sha512(config);
        foreach (var (bytes, digest) in new[] { (layer, layerDigest), (config, configDigest) })
        {
            var location = await Client.StartUploadAsync(repo);
            using var put = await Client.PutUploadAsync(location, digest, bytes);
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        var body = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, configDigest, config.Length),
            [ManifestJson.Descriptor(ManifestJson.LayerMediaType, layerDigest, layer.Length)]);
        var manifestDigest = Digests.Sha512(body);

        using (var put = await Client.PutManifestAsync(repo, manifestDigest, body, ManifestJson.OciManifest))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
            OciAssert.HeaderEqual(put, "Docker-Content-Digest", manifestDigest);
        }

        using var get = await Client.GetAsync($"/v2/{repo}/manifests/{manifestDigest}");
        OciAssert.Status(get, HttpStatusCode.OK);
        OciAssert.HeaderEqual(get, "Docker-Content-Digest", manifestDigest);
        Assert.Equal(body, await get.Content.ReadAsByteArrayAsync());
    }

    [Theory]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public async Task BL06_UnsupportedOrWrongLengthDigest_Returns400DigestInvalid(string digest)
    {
        var repo = OciClient.UniqueRepo("bl06-bad");
        var location = await Client.StartUploadAsync(repo);

        using var put = await Client.PutUploadAsync(location, digest, []);
        await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task BL07_HeadBlobUppercaseHex_IsNever200()
    {
        var repo = OciClient.UniqueRepo("bl07-upper-hex");
        var digest = await Client.PushBlobAsync(repo, OciClient.RandomBytes(50));

        using var head = await Client.HeadAsync($"/v2/{repo}/blobs/sha256:{Digests.Hex(digest).ToUpperInvariant()}");
        Assert.True(
            head.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound,
            "Uppercase hex must not resolve: " + OciAssert.Describe(head));
        using var get = await Client.GetAsync($"/v2/{repo}/blobs/sha256:{Digests.Hex(digest).ToUpperInvariant()}");
        await AssertDigestRejectedAsync(get);
    }

    [Fact]
    public async Task BL07_HeadBlobUppercaseAlgorithm_IsNever200()
    {
        var repo = OciClient.UniqueRepo("bl07-upper-alg");
        var digest = await Client.PushBlobAsync(repo, OciClient.RandomBytes(50));

        using var head = await Client.HeadAsync($"/v2/{repo}/blobs/SHA256:{Digests.Hex(digest)}");
        Assert.True(
            head.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound,
            "Uppercase algorithm must not resolve: " + OciAssert.Describe(head));
        using var get = await Client.GetAsync($"/v2/{repo}/blobs/SHA256:{Digests.Hex(digest)}");
        await AssertDigestRejectedAsync(get);
    }

    [Fact]
    public async Task BL07_UploadPutUppercaseDigest_Returns400DigestInvalid()
    {
        var repo = OciClient.UniqueRepo("bl07-put");
        var data = OciClient.RandomBytes(50);
        var location = await Client.StartUploadAsync(repo);

        using var put = await Client.PutUploadAsync(location, "sha256:" + Digests.Hex(Digests.Sha256(data)).ToUpperInvariant(), data);
        await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task BL07_ManifestWithUppercaseLayerDigest_Returns400()
    {
        var repo = OciClient.UniqueRepo("bl07-manifest");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var layer = await Client.PushBlobAsync(repo, OciClient.RandomBytes(40));
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2),
            [ManifestJson.Descriptor(ManifestJson.LayerMediaType, "sha256:" + Digests.Hex(layer).ToUpperInvariant(), 40)]);

        using var put = await Client.PutManifestAsync(repo, "v1", body, ManifestJson.OciManifest);
        var codes = OciAssert.ErrorCodes(await put.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.True(
            codes.Contains("MANIFEST_INVALID") || codes.Contains("DIGEST_INVALID"),
            "Expected MANIFEST_INVALID or DIGEST_INVALID, got " + string.Join(",", codes));
    }

    private static async Task AssertDigestRejectedAsync(HttpResponseMessage response)
    {
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        }
        else
        {
            await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        }
    }

    private async Task<byte[]> ManifestBodyAsync(string repo)
    {
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        return ManifestJson.Image(ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2), []);
    }
}
