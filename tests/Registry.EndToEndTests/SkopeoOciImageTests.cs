using System.Text.Json.Nodes;
using Registry.EndToEndTests.Support;

namespace Registry.EndToEndTests;

/// <summary>skopeo pushes a umoci-built multi-layer OCI image, inspects it and pulls it back intact.</summary>
[Collection(RegistryCollection.Name)]
public sealed class SkopeoOciImageTests(RegistryFixture registry)
{
    [Fact]
    public async Task OciImage_PushInspectListTagsAndPullBack_IsByteIdentical()
    {
        var ws = registry.CreateWorkspace("oci");
        var image = await ImageBuilder.BuildAsync(ws, ws.PathOf("layout"), "1", [3 * 1024, 700 * 1024, 3 * 1024 * 1024 + 17]);

        await ws.SkopeoAsync("skopeo copy (push)", "copy", "--dest-tls-verify=false", image.OciReference, ws.Remote("e2e/img:1"));

        // The registry serves the exact manifest bytes it was given.
        var raw = await ws.InspectRawAsync("e2e/img:1");
        Assert.Equal(image.ManifestDigest, OciLayout.Sha256Digest(raw));
        Assert.Equal(image.Layout.ReadBlob(image.ManifestDigest), raw);

        // Docker-Content-Digest as skopeo reports it, and the manifest by digest.
        var inspect = await ws.InspectJsonAsync("e2e/img:1");
        Assert.Equal(image.ManifestDigest, (string?)inspect["Digest"]);
        Assert.Equal(image.LayerDigests, inspect["Layers"]!.AsArray().Select(l => (string)l!).ToList());
        var byDigest = await ws.InspectRawAsync($"e2e/img@{image.ManifestDigest}");
        Assert.Equal(raw, byDigest);

        // The config blob.
        var config = await ws.InspectJsonAsync("e2e/img:1", "--config");
        Assert.Equal(image.ConfigDigest, OciLayout.Sha256Digest(image.Layout.ReadBlob(image.ConfigDigest)));
        Assert.Equal(ImageBuilder.Entrypoint, (string?)config["config"]!["Entrypoint"]![0]);
        Assert.Equal(3, config["rootfs"]!["diff_ids"]!.AsArray().Count);

        // A second tag, then list-tags.
        await ws.SkopeoAsync("skopeo copy (second tag)", "copy", "--dest-tls-verify=false", image.OciReference, ws.Remote("e2e/img:second"));
        var tags = await ws.SkopeoAsync("skopeo list-tags", "list-tags", "--tls-verify=false", ws.Remote("e2e/img"));
        var tagList = JsonNode.Parse(tags.StandardOutput)!["Tags"]!.AsArray().Select(t => (string)t!).ToList();
        Assert.Contains("1", tagList);
        Assert.Contains("second", tagList);

        // Pull back into a fresh layout: same manifest digest, every blob byte for byte.
        var back = new OciLayout(ws.PathOf("back"));
        await ws.SkopeoAsync("skopeo copy (pull back)", "copy", "--src-tls-verify=false", ws.Remote("e2e/img:1"), $"oci:{back.Path}:1");
        Assert.Equal(image.ManifestDigest, back.DigestOf("1"));
        LayoutAssert.SameContent(image.Layout, back, image.ManifestDigest);
    }
}
