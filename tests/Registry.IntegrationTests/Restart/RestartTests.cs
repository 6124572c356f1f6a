using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Restart;

/// <summary>Upload sessions survive a registry restart on the same data directory.</summary>
public sealed class RestartTests
{
    [Fact]
    public async Task UploadSession_AfterRestart_ContinuesWithSameRangeAndCompletes()
    {
        var dataDir = TempDirectory.Create();
        try
        {
            var repo = OciClient.UniqueRepo("restart");
            var data = OciClient.RandomBytes(3000);
            var digest = Digests.Sha256(data);
            string location;

            await using (var first = await RegistryFixture.StartAsync(dataDir))
            {
                using var client = new OciClient(first.Address);
                location = await client.StartUploadAsync(repo);
                using var patch = await client.PatchAsync(location, data[..1000], "0-999");
                OciAssert.Status(patch, HttpStatusCode.Accepted);
                OciAssert.HeaderEqual(patch, "Range", "0-999");
                location = OciAssert.Location(patch, $"/v2/{repo}/blobs/uploads/");
            }

            await using var second = await RegistryFixture.StartAsync(dataDir);
            using var again = new OciClient(second.Address);

            using (var status = await again.GetAsync(location))
            {
                OciAssert.Status(status, HttpStatusCode.NoContent);
                OciAssert.HeaderEqual(status, "Range", "0-999");
            }

            using (var patch = await again.PatchAsync(location, data[1000..2000], "1000-1999"))
            {
                OciAssert.Status(patch, HttpStatusCode.Accepted);
                OciAssert.HeaderEqual(patch, "Range", "0-1999");
                location = OciAssert.Location(patch, $"/v2/{repo}/blobs/uploads/");
            }

            using (var put = await again.PutUploadAsync(location, digest, data[2000..], "2000-2999"))
            {
                OciAssert.Status(put, HttpStatusCode.Created);
                OciAssert.HeaderEqual(put, "Docker-Content-Digest", digest);
            }

            using var get = await again.GetAsync($"/v2/{repo}/blobs/{digest}");
            OciAssert.Status(get, HttpStatusCode.OK);
            Assert.Equal(data, await get.Content.ReadAsByteArrayAsync());
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    [Fact]
    public async Task PushedImage_AfterRestart_IsStillServed()
    {
        var dataDir = TempDirectory.Create();
        try
        {
            var repo = OciClient.UniqueRepo("restart-image");
            PushedManifest image;
            await using (var first = await RegistryFixture.StartAsync(dataDir))
            {
                using var client = new OciClient(first.Address);
                image = await client.PushImageAsync(repo, "latest");
            }

            await using var second = await RegistryFixture.StartAsync(dataDir);
            using var again = new OciClient(second.Address);
            using var manifest = await again.GetAsync($"/v2/{repo}/manifests/latest");
            OciAssert.Status(manifest, HttpStatusCode.OK);
            Assert.Equal(image.Body, await manifest.Content.ReadAsByteArrayAsync());
            using var layer = await again.GetAsync($"/v2/{repo}/blobs/{image.LayerDigest}");
            Assert.Equal(image.Layer, await layer.Content.ReadAsByteArrayAsync());
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }
}
