using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Cases;

/// <summary>
/// BL-10 of shared/cases/http-cases.md: cross-repository mount. Step 4 (caller without pull on the
/// source) needs an authorizer that denies; the all-in-one registry allows everything by default.
/// </summary>
public sealed class MountCaseTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task BL10_MountFromRepoHoldingBlob_Returns201AndLinksBlob()
    {
        var source = OciClient.UniqueRepo("bl10-src");
        var target = OciClient.UniqueRepo("bl10-dst");
        var digest = await Client.PushBlobAsync(source, OciClient.RandomBytes(300));

        using (var mount = await Client.PostUploadAsync(target, $"mount={digest}&from={source}"))
        {
            OciAssert.Status(mount, HttpStatusCode.Created);
            Assert.Equal($"/v2/{target}/blobs/{digest}", OciAssert.Location(mount, "/v2/"));
            OciAssert.HeaderEqual(mount, "Docker-Content-Digest", digest);
        }

        using var head = await Client.HeadAsync($"/v2/{target}/blobs/{digest}");
        OciAssert.Status(head, HttpStatusCode.OK);
        OciAssert.ContentLength(head, 300);
    }

    [Fact]
    public async Task BL10_MountFromRepoLackingBlob_Returns202Session()
    {
        var source = OciClient.UniqueRepo("bl10-src-empty");
        var target = OciClient.UniqueRepo("bl10-dst-empty");
        await Client.PushBlobAsync(source, OciClient.RandomBytes(10));
        var absent = Digests.Sha256(OciClient.RandomBytes(10));

        using var mount = await Client.PostUploadAsync(target, $"mount={absent}&from={source}");
        await AssertFallbackSessionAsync(mount, target);

        using var head = await Client.HeadAsync($"/v2/{target}/blobs/{absent}");
        OciAssert.Status(head, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task BL10_MountWithoutFrom_Returns202Session()
    {
        var source = OciClient.UniqueRepo("bl10-nofrom-src");
        var target = OciClient.UniqueRepo("bl10-nofrom-dst");
        var digest = await Client.PushBlobAsync(source, OciClient.RandomBytes(10));

        using var mount = await Client.PostUploadAsync(target, $"mount={digest}");
        await AssertFallbackSessionAsync(mount, target);
    }

    [Fact]
    public async Task BL10_MountFromUnknownRepo_Returns202Session()
    {
        var target = OciClient.UniqueRepo("bl10-nosrc-dst");
        var digest = Digests.Sha256(OciClient.RandomBytes(10));

        using var mount = await Client.PostUploadAsync(target, $"mount={digest}&from={OciClient.UniqueRepo("bl10-nowhere")}");
        await AssertFallbackSessionAsync(mount, target);
    }

    [Fact]
    public async Task BL10_MountMalformedDigest_Returns400DigestInvalid()
    {
        var source = OciClient.UniqueRepo("bl10-bad-src");
        var target = OciClient.UniqueRepo("bl10-bad-dst");
        await Client.PushBlobAsync(source, OciClient.RandomBytes(10));

        using var mount = await Client.PostUploadAsync(target, $"mount=sha256:zz&from={source}");
        await OciAssert.ErrorAsync(mount, HttpStatusCode.BadRequest, "DIGEST_INVALID");
    }

    [Fact]
    public async Task BL10_FallbackSession_CompletesUpload()
    {
        var source = OciClient.UniqueRepo("bl10-continue-src");
        var target = OciClient.UniqueRepo("bl10-continue-dst");
        await Client.PushBlobAsync(source, OciClient.RandomBytes(10));
        var data = OciClient.RandomBytes(64);
        var digest = Digests.Sha256(data);

        string location;
        using (var mount = await Client.PostUploadAsync(target, $"mount={digest}&from={source}"))
        {
            OciAssert.Status(mount, HttpStatusCode.Accepted);
            location = OciAssert.Location(mount, $"/v2/{target}/blobs/uploads/");
        }

        using var put = await Client.PutUploadAsync(location, digest, data);
        OciAssert.Status(put, HttpStatusCode.Created);
        using var head = await Client.HeadAsync($"/v2/{target}/blobs/{digest}");
        OciAssert.Status(head, HttpStatusCode.OK);
    }

    private static Task AssertFallbackSessionAsync(HttpResponseMessage response, string target)
    {
        OciAssert.Status(response, HttpStatusCode.Accepted);
        OciAssert.Location(response, $"/v2/{target}/blobs/uploads/");
        Assert.False(string.IsNullOrEmpty(OciAssert.Header(response, "Docker-Upload-UUID")), "Docker-Upload-UUID is missing");
        return Task.CompletedTask;
    }
}
