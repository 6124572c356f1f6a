using Registry.EndToEndTests.Support;

namespace Registry.EndToEndTests;

/// <summary>Bigger layers and several clients pushing into one repository at the same time.</summary>
[Collection(RegistryCollection.Name)]
public sealed class LargeAndConcurrentPushTests(RegistryFixture registry)
{
    [Fact]
    public async Task LargeLayer_48MiB_PushAndPullBack_IsByteIdentical()
    {
        var ws = registry.CreateWorkspace("large");
        var image = await ImageBuilder.BuildAsync(ws, ws.PathOf("layout"), "1", [48 * 1024 * 1024 + 123, 16 * 1024]);
        await ws.SkopeoAsync("skopeo copy (push 48 MiB layer)", "copy", "--dest-tls-verify=false", image.OciReference, ws.Remote("e2e/large:1"));
        Assert.Equal(image.ManifestDigest, OciLayout.Sha256Digest(await ws.InspectRawAsync("e2e/large:1")));

        var back = new OciLayout(ws.PathOf("back"));
        await ws.SkopeoAsync("skopeo copy (pull back 48 MiB layer)", "copy", "--src-tls-verify=false", ws.Remote("e2e/large:1"), $"oci:{back.Path}:1");
        LayoutAssert.SameContent(image.Layout, back, image.ManifestDigest);
    }

    [Fact]
    public async Task ConcurrentPushes_SharingABaseLayer_AllLandIntact()
    {
        const int clients = 4;
        var ws = registry.CreateWorkspace("concurrent");
        var baseImage = await ImageBuilder.BuildAsync(ws, ws.PathOf("layout"), "base", [2 * 1024 * 1024]);
        var images = new List<LocalImage>();
        for (var i = 0; i < clients; i++)
        {
            images.Add(await ImageBuilder.DeriveAsync(ws, baseImage.Layout, "base", $"v{i}", (256 + (i * 64)) * 1024));
        }

        (await ws.RunAsync("umoci", ["gc", "--layout", baseImage.Layout.Path])).EnsureSuccess("umoci gc");
        Assert.All(images, img => Assert.Equal(baseImage.LayerDigests[0], img.LayerDigests[0]));

        // Separate skopeo processes, all pushing the shared base layer and a tag of one repository at once.
        var pushes = images.Select(img => ws.TrySkopeoAsync("copy", "--dest-tls-verify=false", img.OciReference, ws.Remote($"e2e/concurrent:{img.Tag}"))).ToList();
        var results = await Task.WhenAll(pushes);
        Assert.All(results, r => Assert.True(r.Succeeded, $"concurrent push failed:\n{r.Describe()}"));

        foreach (var img in images)
        {
            Assert.Equal(img.ManifestDigest, OciLayout.Sha256Digest(await ws.InspectRawAsync($"e2e/concurrent:{img.Tag}")));
            var back = new OciLayout(ws.PathOf("back-" + img.Tag));
            await ws.SkopeoAsync($"skopeo copy (pull back {img.Tag})", "copy", "--src-tls-verify=false", ws.Remote($"e2e/concurrent:{img.Tag}"), $"oci:{back.Path}:1");
            LayoutAssert.SameContent(img.Layout, back, img.ManifestDigest);
        }
    }
}
