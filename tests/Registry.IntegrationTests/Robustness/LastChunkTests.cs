using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// A PUT (or POST) that carries the last chunk and the digest: the blob service appends and completes in
/// one step, so a wrong digest takes nothing of the chunk into the session.
/// </summary>
public class LastChunkTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task PutUpload_LastChunkWithWrongDigest_SessionKeepsOnlyItsEarlierBytes_ThenCompletes()
    {
        var repo = OciClient.UniqueRepo("last-chunk");
        var data = OciClient.RandomBytes(3000);
        var location = await Client.StartUploadAsync(repo);
        location = await Client.PatchAcceptedAsync(repo, location, data[..1000], "0-999");

        using (var wrong = await Client.PutUploadAsync(location, Digests.Sha256(OciClient.RandomBytes(10)), data[1000..], "1000-2999"))
        {
            await OciAssert.ErrorAsync(wrong, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        }

        using (var status = await Client.GetAsync(location))
        {
            OciAssert.Status(status, HttpStatusCode.NoContent);
            OciAssert.HeaderEqual(status, "Range", "0-999");
        }

        var digest = Digests.Sha256(data);
        using (var put = await Client.PutUploadAsync(location, digest, data[1000..], "1000-2999"))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
            OciAssert.HeaderEqual(put, "Docker-Content-Digest", digest);
        }

        using var get = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
        var id = location.Split('?')[0].TrimEnd('/').Split('/')[^1];
        Assert.False(Directory.Exists(Path.Combine(Fixture.DataDir, "docker", "registry", "v2", "_uploads", id)), "the session's folder outlived it");
    }

    [Fact]
    public async Task PostUpload_WholeBlobWithWrongDigest_Returns400AndStoresNothing()
    {
        var repo = OciClient.UniqueRepo("post-wrong");
        var data = OciClient.RandomBytes(5000);
        var claimed = Digests.Sha256(OciClient.RandomBytes(10));

        using (var post = await Client.SendAsync(HttpMethod.Post, $"/v2/{repo}/blobs/uploads/?digest={claimed}", OciClient.Bytes(data)))
        {
            await OciAssert.ErrorAsync(post, HttpStatusCode.BadRequest, "DIGEST_INVALID");
        }

        using var head = await Client.HeadAsync($"/v2/{repo}/blobs/{Digests.Sha256(data)}");
        OciAssert.Status(head, HttpStatusCode.NotFound);
        using var claimedHead = await Client.HeadAsync($"/v2/{repo}/blobs/{claimed}");
        OciAssert.Status(claimedHead, HttpStatusCode.NotFound);
    }
}

/// <summary>The same tests with upload bodies streamed over gRPC instead of written to a file the blob service names.</summary>
public sealed class LastChunkTestsStreamed(StreamedUploadsFixture fixture) : LastChunkTests(fixture), IClassFixture<StreamedUploadsFixture>;
