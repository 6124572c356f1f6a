using Registry.EndToEndTests.Support;

namespace Registry.EndToEndTests;

/// <summary>A moving tag (":latest" in CI) and delete/re-push: clients always see the current state.</summary>
[Collection(RegistryCollection.Name)]
public sealed class RetagAndDeleteTests(RegistryFixture registry)
{
    [Fact]
    public async Task MovingTag_DeleteAndRepush_ClientsSeeCurrentManifest()
    {
        var ws = registry.CreateWorkspace("retag");
        var layout = ws.PathOf("layout");
        var a = await ImageBuilder.BuildAsync(ws, layout, "a", [32 * 1024]);
        var b = await ImageBuilder.BuildAsync(ws, layout, "b", [48 * 1024]);

        await ws.SkopeoAsync("push a as latest", "copy", "--dest-tls-verify=false", a.OciReference, ws.Remote("e2e/retag:latest"));
        Assert.Equal(a.ManifestDigest, OciLayout.Sha256Digest(await ws.InspectRawAsync("e2e/retag:latest")));
        Assert.Equal(a.ManifestDigest, (string?)(await ws.InspectJsonAsync("e2e/retag:latest"))["Digest"]);

        // Move the tag to b: raw GET, the HEAD-based digest and a pull all follow.
        await ws.SkopeoAsync("push b as latest", "copy", "--dest-tls-verify=false", b.OciReference, ws.Remote("e2e/retag:latest"));
        Assert.Equal(b.ManifestDigest, OciLayout.Sha256Digest(await ws.InspectRawAsync("e2e/retag:latest")));
        Assert.Equal(b.ManifestDigest, (string?)(await ws.InspectJsonAsync("e2e/retag:latest"))["Digest"]);
        var back = new OciLayout(ws.PathOf("back-b"));
        await ws.SkopeoAsync("pull latest (b)", "copy", "--src-tls-verify=false", ws.Remote("e2e/retag:latest"), $"oci:{back.Path}:1");
        Assert.Equal(b.ManifestDigest, back.DigestOf("1"));

        // a is still there by digest (untagged), until deleted.
        Assert.Equal(a.Layout.ReadBlob(a.ManifestDigest), await ws.InspectRawAsync($"e2e/retag@{a.ManifestDigest}"));
        await ws.SkopeoAsync("delete a", "delete", "--tls-verify=false", ws.Remote($"e2e/retag@{a.ManifestDigest}"));
        var gone = await ws.TrySkopeoAsync("inspect", "--raw", "--tls-verify=false", ws.Remote($"e2e/retag@{a.ManifestDigest}"));
        Assert.False(gone.Succeeded, $"deleted manifest still served:\n{gone.Describe()}");
        Assert.Equal(b.ManifestDigest, OciLayout.Sha256Digest(await ws.InspectRawAsync("e2e/retag:latest")));

        // Delete b (the tagged one): the tag goes with it.
        await ws.SkopeoAsync("delete b", "delete", "--tls-verify=false", ws.Remote($"e2e/retag@{b.ManifestDigest}"));
        var tagGone = await ws.TrySkopeoAsync("inspect", "--raw", "--tls-verify=false", ws.Remote("e2e/retag:latest"));
        Assert.False(tagGone.Succeeded, $"tag still resolves after its manifest was deleted:\n{tagGone.Describe()}");

        // Re-push a under the same tag: served again, by tag and by digest.
        await ws.SkopeoAsync("re-push a as latest", "copy", "--dest-tls-verify=false", a.OciReference, ws.Remote("e2e/retag:latest"));
        Assert.Equal(a.ManifestDigest, OciLayout.Sha256Digest(await ws.InspectRawAsync("e2e/retag:latest")));
        Assert.Equal(a.Layout.ReadBlob(a.ManifestDigest), await ws.InspectRawAsync($"e2e/retag@{a.ManifestDigest}"));
        var again = new OciLayout(ws.PathOf("back-a"));
        await ws.SkopeoAsync("pull latest (a again)", "copy", "--src-tls-verify=false", ws.Remote("e2e/retag:latest"), $"oci:{again.Path}:1");
        LayoutAssert.SameContent(a.Layout, again, a.ManifestDigest);
    }
}
