using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Endpoints;

/// <summary>end-2 (GET/HEAD blob) and end-10 (DELETE blob).</summary>
public sealed class BlobTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task GetBlob_Existing_Returns200WithExactBytesAndHeaders()
    {
        var repo = OciClient.UniqueRepo("blob-get");
        var data = OciClient.RandomBytes(3000);
        var digest = await Client.PushBlobAsync(repo, data);

        using var response = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.ContentLength(response, data.Length);
        OciAssert.HeaderEqual(response, "Docker-Content-Digest", digest);
        Assert.Equal(data, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task HeadBlob_Existing_Returns200WithLengthDigestAndNoBody()
    {
        var repo = OciClient.UniqueRepo("blob-head");
        var data = OciClient.RandomBytes(1234);
        var digest = await Client.PushBlobAsync(repo, data);

        using var response = await Client.HeadAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.ContentLength(response, data.Length);
        OciAssert.HeaderEqual(response, "Docker-Content-Digest", digest);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_Missing_Returns404BlobUnknown()
    {
        var repo = OciClient.UniqueRepo("blob-missing");
        await Client.PushBlobAsync(repo, OciClient.RandomBytes(10));
        var missing = Digests.Sha256(OciClient.RandomBytes(10));

        using var response = await Client.GetAsync($"/v2/{repo}/blobs/{missing}");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task HeadBlob_Missing_Returns404WithoutBody()
    {
        var repo = OciClient.UniqueRepo("blob-head-missing");
        var missing = Digests.Sha256(OciClient.RandomBytes(10));

        using var response = await Client.HeadAsync($"/v2/{repo}/blobs/{missing}");
        OciAssert.Status(response, HttpStatusCode.NotFound);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task DeleteBlob_Existing_Returns202AndBlobIsGone()
    {
        var repo = OciClient.UniqueRepo("blob-delete");
        var digest = await Client.PushBlobAsync(repo, OciClient.RandomBytes(100));

        using (var delete = await Client.DeleteAsync($"/v2/{repo}/blobs/{digest}"))
        {
            OciAssert.Status(delete, HttpStatusCode.Accepted);
        }

        using var get = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        await OciAssert.ErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
        using var head = await Client.HeadAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(head, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task DeleteBlob_Missing_Returns404BlobUnknown()
    {
        var repo = OciClient.UniqueRepo("blob-delete-missing");
        await Client.PushBlobAsync(repo, OciClient.RandomBytes(10));
        var missing = Digests.Sha256(OciClient.RandomBytes(10));

        using var response = await Client.DeleteAsync($"/v2/{repo}/blobs/{missing}");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UNKNOWN");
    }

    [Fact]
    public async Task DeleteBlob_InOneRepo_LeavesOtherRepoCopy()
    {
        var first = OciClient.UniqueRepo("blob-delete-a");
        var second = OciClient.UniqueRepo("blob-delete-b");
        var data = OciClient.RandomBytes(64);
        var digest = await Client.PushBlobAsync(first, data);
        await Client.PushBlobAsync(second, data);

        using (var delete = await Client.DeleteAsync($"/v2/{first}/blobs/{digest}"))
        {
            OciAssert.Status(delete, HttpStatusCode.Accepted);
        }

        using var get = await Client.GetAsync($"/v2/{second}/blobs/{digest}");
        OciAssert.Status(get, HttpStatusCode.OK);
        Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task GetBlob_MalformedDigest_Returns400DigestInvalid()
    {
        var repo = OciClient.UniqueRepo("blob-bad-digest");

        using var response = await Client.GetAsync($"/v2/{repo}/blobs/sha256:baddigeststring");
        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }
}
