using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>Many clients at once: every request answered correctly, no lost writes.</summary>
public sealed class ConcurrencyTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task PutManifest_ManyTagsInParallel_AllStoredAndListed()
    {
        var repo = OciClient.UniqueRepo("par-tags");
        var image = await Client.PushImageAsync(repo, "t00");
        var tags = Enumerable.Range(1, 24).Select(i => $"t{i:D2}").ToList();

        var statuses = await Task.WhenAll(tags.Select(async tag =>
        {
            using var put = await Client.PutManifestAsync(repo, tag, image.Body, ManifestJson.OciManifest);
            return put.StatusCode;
        }));
        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.Created, status));

        using var list = await Client.GetAsync($"/v2/{repo}/tags/list");
        Assert.Equal(tags.Prepend("t00"), (await ListPage.ReadAsync(list, "tags")).Items);
    }

    [Fact]
    public async Task PushImage_ManyReposInParallel_AllServed()
    {
        var repos = Enumerable.Range(0, 16).Select(i => OciClient.UniqueRepo($"par-repo{i}")).ToList();

        var images = await Task.WhenAll(repos.Select(repo => Client.PushImageAsync(repo, "latest")));

        for (var i = 0; i < repos.Count; i++)
        {
            using var get = await Client.GetAsync($"/v2/{repos[i]}/manifests/latest");
            OciAssert.Status(get, HttpStatusCode.OK);
            Assert.Equal(images[i].Body, await get.Content.ReadAsByteArrayAsync());
            using var layer = await Client.GetAsync($"/v2/{repos[i]}/blobs/{images[i].LayerDigest}");
            Assert.Equal(images[i].Layer, await layer.Content.ReadAsByteArrayAsync());
        }
    }

    [Fact]
    public async Task PutManifest_SameTagRacingDigests_EndsOnOneOfThem()
    {
        var repo = OciClient.UniqueRepo("par-same-tag");
        var a = await Client.PushImageAsync(repo, "a");
        var b = await Client.PushImageAsync(repo, "b");

        var puts = await Task.WhenAll(Enumerable.Range(0, 10).Select(async i =>
        {
            var image = i % 2 == 0 ? a : b;
            using var put = await Client.PutManifestAsync(repo, "race", image.Body, ManifestJson.OciManifest);
            return put.StatusCode;
        }));
        Assert.All(puts, status => Assert.Equal(HttpStatusCode.Created, status));

        using var get = await Client.GetAsync($"/v2/{repo}/manifests/race");
        var digest = OciAssert.Header(get, "Docker-Content-Digest");
        Assert.Contains(digest, new[] { a.Digest, b.Digest });
        Assert.Equal(digest == a.Digest ? a.Body : b.Body, await get.Content.ReadAsByteArrayAsync());
    }
}
