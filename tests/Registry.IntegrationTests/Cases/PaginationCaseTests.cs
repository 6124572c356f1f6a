using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Cases;

/// <summary>BL-12 of shared/cases/http-cases.md: tag list pagination and ordering.</summary>
public sealed class PaginationCaseTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    private static readonly string[] SortedTags = ["B", "a", "b", "c", "v1.0", "v1.10", "v1.2"];

    [Fact]
    public async Task BL12_ListTags_ReturnsOrdinalOrder()
    {
        var repo = await RepoWithTagsAsync("bl12-order");

        using var response = await Client.GetAsync($"/v2/{repo}/tags/list");
        var page = await ListPage.ReadAsync(response, "tags");
        Assert.Equal(repo, page.Name);
        Assert.Equal(SortedTags, page.Items);
        Assert.Null(page.Next);
    }

    [Fact]
    public async Task BL12_NTwo_ReturnsLinkAndFollowingYieldsEveryTagOnce()
    {
        var repo = await RepoWithTagsAsync("bl12-follow");

        using (var first = await Client.GetAsync($"/v2/{repo}/tags/list?n=2"))
        {
            var page = await ListPage.ReadAsync(first, "tags");
            Assert.Equal(["B", "a"], page.Items);
            Assert.NotNull(page.Next);
            var query = page.Next[(page.Next.IndexOf('?', StringComparison.Ordinal) + 1)..].Split('&');
            Assert.Equal(["last=a", "n=2"], query.Order(StringComparer.Ordinal));
            Assert.StartsWith($"/v2/{repo}/tags/list?", page.Next, StringComparison.Ordinal);
        }

        var all = new List<string>();
        string? next = $"/v2/{repo}/tags/list?n=2";
        for (var pages = 0; next is not null; pages++)
        {
            Assert.True(pages < 10, "pagination does not end");
            using var response = await Client.GetAsync(next);
            var page = await ListPage.ReadAsync(response, "tags");
            Assert.InRange(page.Items.Count, 1, 2);
            all.AddRange(page.Items);
            next = page.Next;
        }

        Assert.Equal(SortedTags, all);
    }

    [Fact]
    public async Task BL12_NZero_ReturnsEmptyTagsWithoutLink()
    {
        var repo = await RepoWithTagsAsync("bl12-zero");

        using var response = await Client.GetAsync($"/v2/{repo}/tags/list?n=0");
        var page = await ListPage.ReadAsync(response, "tags");
        Assert.Empty(page.Items);
        Assert.Null(page.Next);
    }

    [Fact]
    public async Task BL12_Last_ReturnsTagsAfterIt()
    {
        var repo = await RepoWithTagsAsync("bl12-last");

        using var response = await Client.GetAsync($"/v2/{repo}/tags/list?last=b");
        var page = await ListPage.ReadAsync(response, "tags");
        Assert.Equal(["c", "v1.0", "v1.10", "v1.2"], page.Items);
        Assert.Null(page.Next);
    }

    [Fact]
    public async Task BL12_NonexistentLast_ContinuesLexically()
    {
        var repo = await RepoWithTagsAsync("bl12-bb");

        using var response = await Client.GetAsync($"/v2/{repo}/tags/list?n=2&last=bb");
        var page = await ListPage.ReadAsync(response, "tags");
        Assert.Equal(["c", "v1.0"], page.Items);
        Assert.NotNull(page.Next);
    }

    [Fact]
    public async Task BL12_HugeN_IsClampedNotRejected()
    {
        var repo = await RepoWithTagsAsync("bl12-huge");

        using var response = await Client.GetAsync($"/v2/{repo}/tags/list?n=100000");
        var page = await ListPage.ReadAsync(response, "tags");
        Assert.Equal(SortedTags, page.Items);
        Assert.Null(page.Next);
    }

    [Fact]
    public async Task BL12_HugeNOverMaxPage_ReturnsClampedPageWithLink()
    {
        const int MaxPage = 1000;
        var repo = OciClient.UniqueRepo("bl12-clamp");
        var image = await Client.PushImageAsync(repo, "t0000");
        for (var i = 1; i <= MaxPage; i++)
        {
            using var put = await Client.PutManifestAsync(repo, $"t{i:D4}", image.Body, ManifestJson.OciManifest);
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var response = await Client.GetAsync($"/v2/{repo}/tags/list?n=100000");
        var page = await ListPage.ReadAsync(response, "tags");
        Assert.Equal(MaxPage, page.Items.Count);
        Assert.Equal("t0999", page.Items[^1]);
        Assert.NotNull(page.Next);

        using var rest = await Client.GetAsync(page.Next);
        var last = await ListPage.ReadAsync(rest, "tags");
        Assert.Equal(["t1000"], last.Items);
        Assert.Null(last.Next);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("x")]
    public async Task BL12_BadN_Returns400PaginationNumberInvalid(string n)
    {
        var repo = await RepoWithTagsAsync("bl12-bad");

        using var response = await Client.GetAsync($"/v2/{repo}/tags/list?n={n}");
        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "PAGINATION_NUMBER_INVALID");
    }

    [Fact]
    public async Task BL12_OnlyUntaggedManifests_ReturnsEmptyTags()
    {
        var repo = OciClient.UniqueRepo("bl12-untagged");
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var body = ManifestJson.Image(ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2), []);
        using (var put = await Client.PutManifestAsync(repo, Digests.Sha256(body), body, ManifestJson.OciManifest))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var response = await Client.GetAsync($"/v2/{repo}/tags/list");
        var page = await ListPage.ReadAsync(response, "tags");
        Assert.Empty(page.Items);
    }

    [Fact]
    public async Task BL12_UnknownRepo_Returns404NameUnknown()
    {
        using var response = await Client.GetAsync($"/v2/{OciClient.UniqueRepo("bl12-unknown")}/tags/list");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }

    [Fact]
    public async Task BL12_CatalogNAndLast_PagesLikeTags()
    {
        var prefix = "it/bl12-cat-" + Guid.NewGuid().ToString("N")[..8];
        foreach (var name in new[] { "x", "y", "z" })
        {
            await Client.PushImageAsync($"{prefix}/{name}", "latest");
        }

        using var first = await Client.GetAsync($"/v2/_catalog?n=2&last={prefix}");
        var page = await ListPage.ReadAsync(first, "repositories");
        Assert.Equal([$"{prefix}/x", $"{prefix}/y"], page.Items);
        Assert.NotNull(page.Next);

        using var zero = await Client.GetAsync("/v2/_catalog?n=0");
        var empty = await ListPage.ReadAsync(zero, "repositories");
        Assert.Empty(empty.Items);
        Assert.Null(empty.Next);

        using var huge = await Client.GetAsync("/v2/_catalog?n=100000");
        await ListPage.ReadAsync(huge, "repositories");

        using var bad = await Client.GetAsync("/v2/_catalog?n=-1");
        await OciAssert.ErrorAsync(bad, HttpStatusCode.BadRequest, "PAGINATION_NUMBER_INVALID");
    }

    private async Task<string> RepoWithTagsAsync(string prefix)
    {
        var repo = OciClient.UniqueRepo(prefix);
        var image = await Client.PushImageAsync(repo, SortedTags[0]);
        foreach (var tag in SortedTags.Skip(1))
        {
            using var put = await Client.PutManifestAsync(repo, tag, image.Body, ManifestJson.OciManifest);
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        return repo;
    }
}
