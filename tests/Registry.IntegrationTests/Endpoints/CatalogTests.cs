using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Endpoints;

/// <summary>GET /v2/_catalog with n, last and Link.</summary>
public sealed class CatalogTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task Catalog_AfterPushes_ListsReposSortedWithoutDuplicates()
    {
        var prefix = "it/cat-" + Guid.NewGuid().ToString("N")[..8];
        string[] repos = [prefix + "/b", prefix + "/a", prefix + "/c"];
        foreach (var repo in repos)
        {
            await Client.PushImageAsync(repo, "latest");
        }

        var all = await ReadAllAsync("/v2/_catalog?n=1000");
        Assert.Equal(all.Distinct(StringComparer.Ordinal).Count(), all.Count);
        Assert.Equal(all.Order(StringComparer.Ordinal), all);
        Assert.Equal(repos.Order(StringComparer.Ordinal), all.Where(r => r.StartsWith(prefix, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Catalog_WithNAndLast_PagesWithLinkUntilDone()
    {
        var prefix = "it/catp-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 3; i++)
        {
            await Client.PushImageAsync($"{prefix}/r{i}", "latest");
        }

        using var first = await Client.GetAsync($"/v2/_catalog?n=2&last={prefix}");
        var page = await ListPage.ReadAsync(first, "repositories");
        Assert.Equal([$"{prefix}/r0", $"{prefix}/r1"], page.Items);
        Assert.NotNull(page.Next);
        Assert.StartsWith("/v2/_catalog?", page.Next, StringComparison.Ordinal);

        using var second = await Client.GetAsync(page.Next);
        var next = await ListPage.ReadAsync(second, "repositories");
        Assert.Equal($"{prefix}/r2", next.Items[0]);
    }

    [Fact]
    public async Task Catalog_FollowingLinks_YieldsEveryRepoOnce()
    {
        var prefix = "it/catl-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 5; i++)
        {
            await Client.PushImageAsync($"{prefix}/r{i}", "latest");
        }

        var all = await ReadAllAsync("/v2/_catalog?n=2");
        Assert.Equal(all.Distinct(StringComparer.Ordinal).Count(), all.Count);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"{prefix}/r{i}"), all.Where(r => r.StartsWith(prefix, StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Catalog_ZeroN_ReturnsEmptyListWithoutLink()
    {
        await Client.PushImageAsync(OciClient.UniqueRepo("cat-zero"), "latest");

        using var response = await Client.GetAsync("/v2/_catalog?n=0");
        var page = await ListPage.ReadAsync(response, "repositories");
        Assert.Empty(page.Items);
        Assert.Null(page.Next);
    }

    [Theory]
    [InlineData("-1")]
    [InlineData("x")]
    public async Task Catalog_BadN_Returns400PaginationNumberInvalid(string n)
    {
        using var response = await Client.GetAsync($"/v2/_catalog?n={n}");
        await OciAssert.ErrorAsync(response, HttpStatusCode.BadRequest, "PAGINATION_NUMBER_INVALID");
    }

    [Fact]
    public async Task Catalog_HugeN_IsClampedWithLink()
    {
        // More repositories than one clamped page holds would take minutes; check the clamp keeps a Link
        // only when there is more, and that the answer is not an error.
        await Client.PushImageAsync(OciClient.UniqueRepo("cat-huge"), "latest");

        using var response = await Client.GetAsync("/v2/_catalog?n=100000");
        var page = await ListPage.ReadAsync(response, "repositories");
        Assert.InRange(page.Items.Count, 1, 1000);
        if (page.Items.Count < 1000)
        {
            Assert.Null(page.Next);
        }
    }

    private async Task<List<string>> ReadAllAsync(string first)
    {
        var all = new List<string>();
        string? next = first;
        for (var pages = 0; next is not null; pages++)
        {
            Assert.True(pages < 10_000, "catalog pagination does not end");
            using var response = await Client.GetAsync(next);
            var page = await ListPage.ReadAsync(response, "repositories");
            all.AddRange(page.Items);
            next = page.Next;
        }

        return all;
    }
}
