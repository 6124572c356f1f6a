using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Registry.EndToEndTests.Support;

namespace Registry.EndToEndTests;

/// <summary>More tags than one page of the tags list: skopeo must follow the Link header to see them all.</summary>
[Collection(RegistryCollection.Name)]
public sealed class ManyTagsTests(RegistryFixture registry)
{
    [Fact]
    public async Task ListTags_MoreThanOnePage_SkopeoSeesEveryTag()
    {
        const int extraTags = 1100;
        var ws = registry.CreateWorkspace("tags");
        var image = await ImageBuilder.BuildAsync(ws, ws.PathOf("layout"), "1", [1024]);
        await ws.SkopeoAsync("skopeo copy (push)", "copy", "--dest-tls-verify=false", image.OciReference, ws.Remote("e2e/tags:base"));

        // Tagging is a manifest PUT of the same bytes; done directly to keep the test fast.
        var manifest = image.Layout.ReadBlob(image.ManifestDigest);
        using var http = new HttpClient { BaseAddress = registry.Address, Timeout = TimeSpan.FromSeconds(30) };
        using var gate = new SemaphoreSlim(8);
        var puts = Enumerable.Range(0, extraTags).Select(async i =>
        {
            await gate.WaitAsync();
            try
            {
                using var content = new ByteArrayContent(manifest);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/vnd.oci.image.manifest.v1+json");
                using var response = await http.PutAsync($"/v2/e2e/tags/manifests/t{i:D4}", content);
                Assert.True((int)response.StatusCode == 201, $"PUT tag t{i:D4}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
            finally
            {
                gate.Release();
            }
        });
        await Task.WhenAll(puts);

        var list = await ws.SkopeoAsync("skopeo list-tags", "list-tags", "--tls-verify=false", ws.Remote("e2e/tags"));
        var tags = JsonNode.Parse(list.StandardOutput)!["Tags"]!.AsArray().Select(t => (string)t!).ToList();
        Assert.Equal(extraTags + 1, tags.Count);
        Assert.Equal(tags.Count, tags.Distinct(StringComparer.Ordinal).Count());
        Assert.Contains("base", tags);
        Assert.Contains($"t{extraTags - 1:D4}", tags);
    }
}
