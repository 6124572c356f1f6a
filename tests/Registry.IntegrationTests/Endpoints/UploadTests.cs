using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Endpoints;

/// <summary>end-4a, end-4b, end-5, end-6, end-11, end-13 and upload cancellation.</summary>
public class UploadTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task PostUpload_EmptyBody_Returns202WithRelativeLocationAndUuid()
    {
        var repo = OciClient.UniqueRepo("up-post");

        using var response = await Client.PostUploadAsync(repo);
        OciAssert.Status(response, HttpStatusCode.Accepted);
        var location = OciAssert.Location(response, $"/v2/{repo}/blobs/uploads/");
        var uuid = OciAssert.Header(response, "Docker-Upload-UUID");
        Assert.False(string.IsNullOrEmpty(uuid), "Docker-Upload-UUID is missing");
        Assert.Contains(uuid, location, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PostUpload_WithDigestAndBody_CompletesOrOpensSession()
    {
        // end-4b: a registry MAY complete the upload in one POST (201) or fall back to a session (202).
        var repo = OciClient.UniqueRepo("up-post-digest");
        var data = OciClient.RandomBytes(500);
        var digest = Digests.Sha256(data);

        using var response = await Client.SendAsync(
            HttpMethod.Post, $"/v2/{repo}/blobs/uploads/?digest={digest}", OciClient.Bytes(data));
        if (response.StatusCode == HttpStatusCode.Created)
        {
            Assert.Equal($"/v2/{repo}/blobs/{digest}", OciAssert.Location(response, "/v2/"));
            OciAssert.HeaderEqual(response, "Docker-Content-Digest", digest);
            using var get = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
            OciAssert.Status(get, HttpStatusCode.OK);
            Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
        }
        else
        {
            OciAssert.Status(response, HttpStatusCode.Accepted);
            var location = OciAssert.Location(response, $"/v2/{repo}/blobs/uploads/");
            using var put = await Client.PutUploadAsync(location, digest, data);
            OciAssert.Status(put, HttpStatusCode.Created);
        }
    }

    [Fact]
    public async Task PutUpload_MonolithicBody_Returns201WithBlobLocationAndDigest()
    {
        var repo = OciClient.UniqueRepo("up-mono");
        var data = OciClient.RandomBytes(4096);
        var digest = Digests.Sha256(data);
        var location = await Client.StartUploadAsync(repo);

        using var response = await Client.PutUploadAsync(location, digest, data);
        OciAssert.Status(response, HttpStatusCode.Created);
        Assert.Equal($"/v2/{repo}/blobs/{digest}", OciAssert.Location(response, "/v2/"));
        OciAssert.HeaderEqual(response, "Docker-Content-Digest", digest);

        using var get = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task PatchUpload_FirstChunk_Returns202WithRangeAndLocation()
    {
        var repo = OciClient.UniqueRepo("up-patch");
        var location = await Client.StartUploadAsync(repo);

        using var response = await Client.PatchAsync(location, OciClient.RandomBytes(100), "0-99");
        OciAssert.Status(response, HttpStatusCode.Accepted);
        OciAssert.Location(response, $"/v2/{repo}/blobs/uploads/");
        OciAssert.HeaderEqual(response, "Range", "0-99");
        Assert.False(string.IsNullOrEmpty(OciAssert.Header(response, "Docker-Upload-UUID")));
    }

    [Fact]
    public async Task PutUpload_AfterChunks_Returns201AndBlobHasAllBytes()
    {
        var repo = OciClient.UniqueRepo("up-chunks");
        var data = OciClient.RandomBytes(3000);
        var digest = Digests.Sha256(data);
        var location = await Client.StartUploadAsync(repo);

        location = await Client.PatchAcceptedAsync(repo, location, data[..1000], "0-999");

        location = await Client.PatchAcceptedAsync(repo, location, data[1000..2000], "1000-1999");

        using var put = await Client.PutUploadAsync(location, digest, data[2000..], "2000-2999");
        OciAssert.Status(put, HttpStatusCode.Created);
        OciAssert.HeaderEqual(put, "Docker-Content-Digest", digest);

        using var get = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task PutUpload_DigestMismatch_Returns400DigestInvalidAndStoresNothing()
    {
        var repo = OciClient.UniqueRepo("up-mismatch");
        var data = OciClient.RandomBytes(100);
        var wrong = Digests.Sha256(OciClient.RandomBytes(100));
        var location = await Client.StartUploadAsync(repo);

        using var response = await Client.PutUploadAsync(location, wrong, data);
        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");

        using var head = await Client.HeadAsync($"/v2/{repo}/blobs/{wrong}");
        OciAssert.Status(head, HttpStatusCode.NotFound);
        using var headActual = await Client.HeadAsync($"/v2/{repo}/blobs/{Digests.Sha256(data)}");
        OciAssert.Status(headActual, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task PutUpload_NoDigestParameter_Returns400DigestInvalid()
    {
        var repo = OciClient.UniqueRepo("up-nodigest");
        var location = await Client.StartUploadAsync(repo);

        using var response = await Client.SendAsync(HttpMethod.Put, location, OciClient.Bytes(OciClient.RandomBytes(10)));
        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task GetUpload_AfterChunk_Returns204WithRangeAndLocation()
    {
        var repo = OciClient.UniqueRepo("up-status");
        var location = await Client.StartUploadAsync(repo);
        location = await Client.PatchAcceptedAsync(repo, location, OciClient.RandomBytes(256), "0-255");

        using var response = await Client.GetAsync(location);
        OciAssert.Status(response, HttpStatusCode.NoContent);
        OciAssert.HeaderEqual(response, "Range", "0-255");
        OciAssert.Location(response, $"/v2/{repo}/blobs/uploads/");
        Assert.False(string.IsNullOrEmpty(OciAssert.Header(response, "Docker-Upload-UUID")));
    }

    [Theory]
    [InlineData("GET", "a%0Ab")]
    [InlineData("PATCH", "a%0Ab")]
    [InlineData("PUT", "%C3%A9")]
    [InlineData("DELETE", "a%09b")]
    [InlineData("GET", "a.b")]
    public async Task UploadSession_IdNoSessionCouldHave_Returns404BlobUploadUnknown(string method, string id)
    {
        var repo = OciClient.UniqueRepo("up-badid");
        using var response = await Client.SendAsync(
            new HttpMethod(method),
            $"/v2/{repo}/blobs/uploads/{id}?digest=sha256:{new string('0', 64)}",
            method is "PATCH" or "PUT" ? new ByteArrayContent([1, 2, 3]) : null);
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task GetUpload_UnknownSession_Returns404BlobUploadUnknown()
    {
        var repo = OciClient.UniqueRepo("up-unknown");
        await Client.StartUploadAsync(repo);

        using var response = await Client.GetAsync($"/v2/{repo}/blobs/uploads/{Guid.NewGuid()}");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task GetUpload_AfterCompletion_Returns404BlobUploadUnknown()
    {
        var repo = OciClient.UniqueRepo("up-done");
        var data = OciClient.RandomBytes(10);
        var location = await Client.StartUploadAsync(repo);
        using (var put = await Client.PutUploadAsync(location, Digests.Sha256(data), data))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var response = await Client.GetAsync(location);
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task GetUpload_SessionOfOtherRepo_Returns404BlobUploadUnknown()
    {
        var repo = OciClient.UniqueRepo("up-owner");
        var other = OciClient.UniqueRepo("up-intruder");
        var location = await Client.StartUploadAsync(repo);
        var foreign = location.Replace($"/v2/{repo}/", $"/v2/{other}/", StringComparison.Ordinal);

        using var response = await Client.GetAsync(foreign);
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task DeleteUpload_Session_Returns204AndSessionIsGone()
    {
        var repo = OciClient.UniqueRepo("up-cancel");
        var location = await Client.StartUploadAsync(repo);
        location = await Client.PatchAcceptedAsync(repo, location, OciClient.RandomBytes(10), "0-9");

        using (var delete = await Client.DeleteAsync(location))
        {
            OciAssert.Status(delete, HttpStatusCode.NoContent);
        }

        using var get = await Client.GetAsync(location);
        await OciAssert.ErrorAsync(get, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        using var patchAgain = await Client.PatchAsync(location, OciClient.RandomBytes(10), "10-19");
        await OciAssert.ErrorAsync(patchAgain, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task PatchAndPut_SessionOfAnotherRepository_Return404_AndLeaveItIntact()
    {
        var repo = OciClient.UniqueRepo("up-owner");
        var other = OciClient.UniqueRepo("up-intruder");
        var location = await Client.StartUploadAsync(repo);
        var foreign = location.Replace($"/v2/{repo}/", $"/v2/{other}/", StringComparison.Ordinal);
        var data = OciClient.RandomBytes(1000);

        using (var patch = await Client.PatchAsync(foreign, data, "0-999"))
        {
            await OciAssert.ErrorAsync(patch, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        }

        var digest = Digests.Sha256(data);
        using (var put = await Client.SendAsync(HttpMethod.Put, $"{foreign}{(foreign.Contains('?') ? '&' : '?')}digest={digest}", OciClient.Bytes(data)))
        {
            await OciAssert.ErrorAsync(put, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        }

        // The owner's session still holds nothing and takes the blob from its first byte.
        using (var status = await Client.GetAsync(location))
        {
            OciAssert.Status(status, HttpStatusCode.NoContent);
            OciAssert.HeaderEqual(status, "Range", "0-0");
        }

        using var done = await Client.SendAsync(HttpMethod.Put, $"{location}{(location.Contains('?') ? '&' : '?')}digest={digest}", OciClient.Bytes(data));
        OciAssert.Status(done, HttpStatusCode.Created);
        using var head = await Client.HeadAsync($"/v2/{other}/blobs/{digest}");
        OciAssert.Status(head, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task DeleteUpload_UnknownSession_Returns404BlobUploadUnknown()
    {
        var repo = OciClient.UniqueRepo("up-cancel-unknown");

        using var response = await Client.DeleteAsync($"/v2/{repo}/blobs/uploads/{Guid.NewGuid()}");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task PostUpload_MountFromRepoHoldingBlob_Returns201WithBlobLocation()
    {
        var source = OciClient.UniqueRepo("up-mount-src");
        var target = OciClient.UniqueRepo("up-mount-dst");
        var data = OciClient.RandomBytes(77);
        var digest = await Client.PushBlobAsync(source, data);

        using var response = await Client.PostUploadAsync(target, $"mount={digest}&from={source}");
        OciAssert.Status(response, HttpStatusCode.Created);
        Assert.Equal($"/v2/{target}/blobs/{digest}", OciAssert.Location(response, "/v2/"));
        OciAssert.HeaderEqual(response, "Docker-Content-Digest", digest);

        using var get = await Client.GetAsync($"/v2/{target}/blobs/{digest}");
        OciAssert.Status(get, HttpStatusCode.OK);
        Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task PatchUpload_UnknownSession_Returns404BlobUploadUnknown()
    {
        var repo = OciClient.UniqueRepo("up-patch-unknown");

        using var response = await Client.PatchAsync($"/v2/{repo}/blobs/uploads/{Guid.NewGuid()}", OciClient.RandomBytes(4), "0-3");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task PutUpload_UnknownSession_Returns404BlobUploadUnknown()
    {
        var repo = OciClient.UniqueRepo("up-put-unknown");
        var data = OciClient.RandomBytes(4);

        using var response = await Client.PutUploadAsync($"/v2/{repo}/blobs/uploads/{Guid.NewGuid()}", Digests.Sha256(data), data);
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }
}

/// <summary>The same tests with upload bodies streamed over gRPC instead of written to a file the blob service names.</summary>
public sealed class UploadTestsStreamed(StreamedUploadsFixture fixture) : UploadTests(fixture), IClassFixture<StreamedUploadsFixture>;
