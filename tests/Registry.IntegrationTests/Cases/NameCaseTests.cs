using System.Net;
using System.Text.Json;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Cases;

/// <summary>BL-17 of shared/cases/http-cases.md: repository name and tag validation, routing.</summary>
public sealed class NameCaseTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Theory]
    [InlineData("Foo/bar")]
    [InlineData("foo/Bar")]
    public async Task BL17_UppercaseInAnyComponent_ManifestPutReturns400NameInvalid(string name)
    {
        var body = ManifestJson.Image(ManifestJson.Descriptor(ManifestJson.EmptyMediaType, Digests.Sha256(ManifestJson.EmptyConfig), 2), []);

        using var put = await Client.PutManifestAsync(name, "t", body, ManifestJson.OciManifest);
        await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "NAME_INVALID");

        using var catalog = await Client.GetAsync("/v2/_catalog?n=1000");
        var page = await ListPage.ReadAsync(catalog, "repositories");
        Assert.DoesNotContain(page.Items, repo => string.Equals(repo, name, StringComparison.OrdinalIgnoreCase));
    }

    [Theory]
    [InlineData("Foo/bar")]
    [InlineData("foo/Bar")]
    public async Task BL17_UppercaseInAnyComponent_UploadPostReturns400NameInvalid(string name)
    {
        using var post = await Client.PostUploadAsync(name);
        await OciAssert.ErrorAsync(post, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Theory]
    [InlineData("a/b/c/d/e")]
    [InlineData("a__b")]
    [InlineData("a.b")]
    [InlineData("a---b")]
    public async Task BL17_ValidGrammarName_IsAccepted(string name)
    {
        var repo = OciClient.UniqueRepo("bl17") + "/" + name;

        await Client.PushImageAsync(repo, "latest");
        using var tags = await Client.GetAsync($"/v2/{repo}/tags/list");
        var page = await ListPage.ReadAsync(tags, "tags");
        Assert.Equal(repo, page.Name);
    }

    [Theory]
    [InlineData("a___b")]
    [InlineData("-a")]
    [InlineData("a-")]
    [InlineData("a//b")]
    [InlineData("a/")]
    [InlineData("_a")]
    public async Task BL17_InvalidGrammarName_Returns400NameInvalid(string name)
    {
        var repo = OciClient.UniqueRepo("bl17") + "/" + name;

        using var post = await Client.PostUploadAsync(repo);
        await OciAssert.ErrorAsync(post, HttpStatusCode.BadRequest, "NAME_INVALID");
    }

    [Fact]
    public async Task BL17_RepoNamedManifests_RoutesByLastKeyword()
    {
        var repo = OciClient.UniqueRepo("bl17") + "/library/manifests";
        var image = await Client.PushImageAsync(repo, "latest");

        using var get = await Client.GetAsync($"/v2/{repo}/manifests/latest");
        OciAssert.Status(get, HttpStatusCode.OK);
        OciAssert.HeaderEqual(get, "Docker-Content-Digest", image.Digest);
    }

    [Fact]
    public async Task BL17_RepoNamedBlobs_RoutesByLastKeyword()
    {
        var repo = OciClient.UniqueRepo("bl17") + "/x/blobs";
        var digest = await Client.PushBlobAsync(repo, OciClient.RandomBytes(33));

        using var head = await Client.HeadAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(head, HttpStatusCode.OK);
        OciAssert.ContentLength(head, 33);
    }

    [Fact]
    public async Task BL17_RepoNamedTags_RoutesByLastKeyword()
    {
        var repo = OciClient.UniqueRepo("bl17") + "/x/tags";
        await Client.PushImageAsync(repo, "latest");

        using var get = await Client.GetAsync($"/v2/{repo}/tags/list");
        OciAssert.Status(get, HttpStatusCode.OK);
        using var document = JsonDocument.Parse(await get.Content.ReadAsStringAsync());
        Assert.Equal(repo, document.RootElement.GetProperty("name").GetString());
        Assert.Equal(["latest"], document.RootElement.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
    }

    [Fact]
    public async Task BL17_Tag128Characters_IsAccepted()
    {
        var repo = OciClient.UniqueRepo("bl17-tag128");
        var tag = new string('t', 128);

        await Client.PushImageAsync(repo, tag);
        using var get = await Client.GetAsync($"/v2/{repo}/manifests/{tag}");
        OciAssert.Status(get, HttpStatusCode.OK);
    }

    [Theory]
    [InlineData(129)]
    [InlineData(-1)]
    [InlineData(-2)]
    public async Task BL17_TagTooLongOrBadFirstCharacter_Returns400TagInvalid(int shape)
    {
        var repo = OciClient.UniqueRepo("bl17-badtag");
        var tag = shape switch
        {
            -1 => ".hidden",
            -2 => "-dash",
            _ => new string('t', shape),
        };
        var config = await Client.PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var body = ManifestJson.Image(ManifestJson.Descriptor(ManifestJson.EmptyMediaType, config, 2), []);

        using var put = await Client.PutManifestAsync(repo, tag, body, ManifestJson.OciManifest);
        await OciAssert.ErrorAsync(put, HttpStatusCode.BadRequest, "TAG_INVALID");
    }

    [Fact]
    public async Task BL17_EscapedSlashInSegment_IsNotASeparator()
    {
        var owner = OciClient.UniqueRepo("bl17-slash");
        var digest = await Client.PushBlobAsync(owner, OciClient.RandomBytes(12));
        var escaped = owner.Replace("/", "%2F", StringComparison.Ordinal);

        var head = await RawHttp.SendAsync(Client.BaseAddress, "GET", $"/v2/{escaped}/blobs/{digest}");
        Assert.Equal(400, head.Status);
        Assert.Equal("application/json", head.Header("Content-Type")?.Split(';')[0]);
        Assert.Contains("NAME_INVALID", OciAssert.ErrorCodes(System.Text.Encoding.UTF8.GetString(head.Body)));
    }
}
