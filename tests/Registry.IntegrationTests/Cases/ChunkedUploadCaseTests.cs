using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Cases;

/// <summary>BL-01 to BL-04 of shared/cases/http-cases.md: chunked and streamed uploads.</summary>
public sealed class ChunkedUploadCaseTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task BL01_ChunkedPatch_RangeReportsWholeBlobProgress()
    {
        var repo = OciClient.UniqueRepo("bl01");
        var data = OciClient.RandomBytes(2 * MiB);
        var digest = Digests.Sha256(data);

        string location;
        using (var post = await Client.PostUploadAsync(repo))
        {
            OciAssert.Status(post, HttpStatusCode.Accepted);
            location = OciAssert.Location(post, $"/v2/{repo}/blobs/uploads/");
            Assert.False(string.IsNullOrEmpty(OciAssert.Header(post, "Docker-Upload-UUID")));
        }

        using (var first = await Client.PatchAsync(location, data[..MiB], "0-1048575"))
        {
            OciAssert.Status(first, HttpStatusCode.Accepted);
            location = OciAssert.Location(first, $"/v2/{repo}/blobs/uploads/");
            OciAssert.HeaderEqual(first, "Range", "0-1048575");
        }

        using (var second = await Client.PatchAsync(location, data[MiB..], "1048576-2097151"))
        {
            OciAssert.Status(second, HttpStatusCode.Accepted);
            location = OciAssert.Location(second, $"/v2/{repo}/blobs/uploads/");
            OciAssert.HeaderEqual(second, "Range", "0-2097151");
        }

        using (var status = await Client.GetAsync(location))
        {
            OciAssert.Status(status, HttpStatusCode.NoContent);
            OciAssert.Location(status, $"/v2/{repo}/blobs/uploads/");
            OciAssert.HeaderEqual(status, "Range", "0-2097151");
        }

        using var put = await Client.PutUploadAsync(location, digest);
        OciAssert.Status(put, HttpStatusCode.Created);
        Assert.Equal($"/v2/{repo}/blobs/{digest}", OciAssert.Location(put, "/v2/"));
        OciAssert.HeaderEqual(put, "Docker-Content-Digest", digest);

        using var get = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task BL02_UploadStatusBeforeAnyByte_Returns204WithRange00()
    {
        var repo = OciClient.UniqueRepo("bl02-status");
        var location = await Client.StartUploadAsync(repo);

        using var status = await Client.GetAsync(location);
        OciAssert.Status(status, HttpStatusCode.NoContent);
        OciAssert.Location(status, $"/v2/{repo}/blobs/uploads/");
        OciAssert.HeaderEqual(status, "Range", "0-0");
    }

    [Fact]
    public async Task BL02_EmptyBlobUpload_Returns201AndHeadReportsZeroLength()
    {
        var repo = OciClient.UniqueRepo("bl02-empty");
        var location = await Client.StartUploadAsync(repo);

        using (var put = await Client.PutUploadAsync(location, Digests.EmptySha256))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
            OciAssert.HeaderEqual(put, "Docker-Content-Digest", Digests.EmptySha256);
        }

        using var head = await Client.HeadAsync($"/v2/{repo}/blobs/{Digests.EmptySha256}");
        OciAssert.Status(head, HttpStatusCode.OK);
        OciAssert.ContentLength(head, 0);
        OciAssert.HeaderEqual(head, "Docker-Content-Digest", Digests.EmptySha256);
    }

    [Fact]
    public async Task BL02_UnknownSession_Returns404BlobUploadUnknown()
    {
        var repo = OciClient.UniqueRepo("bl02-unknown");

        using var response = await Client.GetAsync($"/v2/{repo}/blobs/uploads/{Guid.NewGuid()}");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
    }

    [Fact]
    public async Task BL03_OutOfOrderChunk_Returns416_AndLeavesSessionUnchanged()
    {
        var (repo, location, _) = await StartWithFirstKiBAsync("bl03-gap");

        using (var gap = await Client.PatchAsync(location, OciClient.RandomBytes(1024), "2048-3071"))
        {
            await OciAssert.ErrorAsync(gap, HttpStatusCode.RequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID");
            OciAssert.HeaderEqual(gap, "Range", "0-1023");
        }

        await AssertProgressAsync(repo, location, "0-1023");
    }

    [Fact]
    public async Task BL03_ReplayedChunk_Returns416_AndLeavesSessionUnchanged()
    {
        var (repo, location, _) = await StartWithFirstKiBAsync("bl03-replay");

        using (var replay = await Client.PatchAsync(location, OciClient.RandomBytes(1024), "0-1023"))
        {
            await OciAssert.ErrorAsync(replay, HttpStatusCode.RequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID");
            OciAssert.HeaderEqual(replay, "Range", "0-1023");
        }

        await AssertProgressAsync(repo, location, "0-1023");
    }

    [Fact]
    public async Task BL03_FinalPutWithGap_Returns416_AndSessionStaysResumable()
    {
        var (repo, location, first) = await StartWithFirstKiBAsync("bl03-put");
        var rest = OciClient.RandomBytes(2048);
        var digest = Digests.Sha256([.. first, .. rest]);

        using (var put = await Client.PutUploadAsync(location, digest, rest[1024..], "2048-3071"))
        {
            await OciAssert.ErrorAsync(put, HttpStatusCode.RequestedRangeNotSatisfiable, "BLOB_UPLOAD_INVALID");
            OciAssert.HeaderEqual(put, "Range", "0-1023");
        }

        using (var head = await Client.HeadAsync($"/v2/{repo}/blobs/{digest}"))
        {
            OciAssert.Status(head, HttpStatusCode.NotFound);
        }

        await AssertProgressAsync(repo, location, "0-1023");

        // The session is still usable: send the right continuation and finish.
        location = await Client.PatchAcceptedAsync(repo, location, rest[..1024], "1024-2047");

        using var done = await Client.PutUploadAsync(location, digest, rest[1024..], "2048-3071");
        OciAssert.Status(done, HttpStatusCode.Created);
    }

    [Fact]
    public async Task BL03_ContentRangeDisagreesWithLength_Returns400SizeInvalid_AndWritesNothing()
    {
        var (repo, location, _) = await StartWithFirstKiBAsync("bl03-size");

        using (var patch = await Client.PatchAsync(location, OciClient.RandomBytes(10), "1024-2047"))
        {
            await OciAssert.ErrorAsync(patch, HttpStatusCode.BadRequest, "SIZE_INVALID");
        }

        await AssertProgressAsync(repo, location, "0-1023");
    }

    [Fact]
    public async Task BL04_StreamedPatchWithoutLengthOrRange_Accepts64MiB()
    {
        const long length = 64L * MiB;
        var repo = OciClient.UniqueRepo("bl04-stream");
        var digest = PatternStream.Digest(length, HashAlgorithmName.SHA256);
        var location = await Client.StartUploadAsync(repo);

        var content = new StreamContent(new PatternStream(length), 64 * 1024);
        content.Headers.ContentType = new MediaTypeHeaderValue(OciClient.OctetStream);
        using (var patch = await Client.SendAsync(HttpMethod.Patch, location, content, request =>
        {
            Assert.Null(request.Content!.Headers.ContentLength);
            request.Headers.TransferEncodingChunked = true;
        }))
        {
            OciAssert.Status(patch, HttpStatusCode.Accepted);
            location = OciAssert.Location(patch, $"/v2/{repo}/blobs/uploads/");
            OciAssert.HeaderEqual(patch, "Range", "0-67108863");
        }

        using var put = await Client.PutUploadAsync(location, digest);
        OciAssert.Status(put, HttpStatusCode.Created);
        OciAssert.HeaderEqual(put, "Docker-Content-Digest", digest);

        using var head = await Client.HeadAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(head, HttpStatusCode.OK);
        OciAssert.ContentLength(head, length);
    }

    [Fact]
    public async Task BL04_PatchWithLengthButNoRange_AppendsAtEnd()
    {
        var repo = OciClient.UniqueRepo("bl04-norange");
        var data = OciClient.RandomBytes(3000);
        var location = await Client.StartUploadAsync(repo);

        using (var first = await Client.PatchAsync(location, data[..1000], contentRange: null))
        {
            OciAssert.Status(first, HttpStatusCode.Accepted);
            location = OciAssert.Location(first, $"/v2/{repo}/blobs/uploads/");
            OciAssert.HeaderEqual(first, "Range", "0-999");
        }

        using (var second = await Client.PatchAsync(location, data[1000..], contentRange: null))
        {
            OciAssert.Status(second, HttpStatusCode.Accepted);
            location = OciAssert.Location(second, $"/v2/{repo}/blobs/uploads/");
            OciAssert.HeaderEqual(second, "Range", "0-2999");
        }

        using var put = await Client.PutUploadAsync(location, Digests.Sha256(data));
        OciAssert.Status(put, HttpStatusCode.Created);
    }

    [Fact]
    public async Task BL04_PatchWithoutContentType_IsAccepted()
    {
        var repo = OciClient.UniqueRepo("bl04-notype");
        var data = OciClient.RandomBytes(500);
        var location = await Client.StartUploadAsync(repo);

        using (var patch = await Client.SendAsync(HttpMethod.Patch, location, OciClient.Bytes(data, contentType: null)))
        {
            OciAssert.Status(patch, HttpStatusCode.Accepted);
            location = OciAssert.Location(patch, $"/v2/{repo}/blobs/uploads/");
            OciAssert.HeaderEqual(patch, "Range", "0-499");
        }

        using var put = await Client.PutUploadAsync(location, Digests.Sha256(data));
        OciAssert.Status(put, HttpStatusCode.Created);
    }

    private async Task<(string Repo, string Location, byte[] First)> StartWithFirstKiBAsync(string prefix)
    {
        var repo = OciClient.UniqueRepo(prefix);
        var first = OciClient.RandomBytes(1024);
        var location = await Client.StartUploadAsync(repo);
        using var patch = await Client.PatchAsync(location, first, "0-1023");
        OciAssert.Status(patch, HttpStatusCode.Accepted);
        OciAssert.HeaderEqual(patch, "Range", "0-1023");
        return (repo, OciAssert.Location(patch, $"/v2/{repo}/blobs/uploads/"), first);
    }

    private async Task AssertProgressAsync(string repo, string location, string range)
    {
        using var status = await Client.GetAsync(location);
        OciAssert.Status(status, HttpStatusCode.NoContent);
        OciAssert.HeaderEqual(status, "Range", range);
        OciAssert.Location(status, $"/v2/{repo}/blobs/uploads/");
    }
}
