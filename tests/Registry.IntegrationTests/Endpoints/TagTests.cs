using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Endpoints;

/// <summary>end-8a and end-8b: GET /v2/&lt;name&gt;/tags/list.</summary>
public sealed class TagTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task ListTags_TaggedRepo_ReturnsNameAndAllTags()
    {
        var repo = OciClient.UniqueRepo("tags-all");
        var image = await Client.PushImageAsync(repo, "one");
        foreach (var tag in new[] { "two", "three" })
        {
            using var put = await Client.PutManifestAsync(repo, tag, image.Body, ManifestJson.OciManifest);
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var response = await Client.GetAsync($"/v2/{repo}/tags/list");
        var page = await ListPage.ReadAsync(response, "tags");
        Assert.Equal(repo, page.Name);
        Assert.Equal(["one", "three", "two"], page.Items);
        Assert.Null(page.Next);
    }

    [Fact]
    public async Task ListTags_WithN_ReturnsFirstNAndNextLink()
    {
        var repo = OciClient.UniqueRepo("tags-n");
        var image = await Client.PushImageAsync(repo, "a");
        foreach (var tag in new[] { "b", "c" })
        {
            using var put = await Client.PutManifestAsync(repo, tag, image.Body, ManifestJson.OciManifest);
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using var first = await Client.GetAsync($"/v2/{repo}/tags/list?n=2");
        var page = await ListPage.ReadAsync(first, "tags");
        Assert.Equal(["a", "b"], page.Items);
        Assert.NotNull(page.Next);
        Assert.StartsWith($"/v2/{repo}/tags/list?", page.Next, StringComparison.Ordinal);

        using var second = await Client.GetAsync($"/v2/{repo}/tags/list?n=2&last=b");
        var rest = await ListPage.ReadAsync(second, "tags");
        Assert.Equal(["c"], rest.Items);
        Assert.Null(rest.Next);
    }

    [Fact]
    public async Task ListTags_UnknownRepo_Returns404NameUnknown()
    {
        var repo = OciClient.UniqueRepo("tags-unknown");

        using var response = await Client.GetAsync($"/v2/{repo}/tags/list");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
    }
}
