using Registry.EndToEndTests.Support;

namespace Registry.EndToEndTests;

/// <summary>A push killed part-way (client crash, Ctrl+C) must not stop the next push from landing intact.</summary>
[Collection(RegistryCollection.Name)]
public sealed class InterruptedPushTests(RegistryFixture registry)
{
    [Fact]
    public async Task PushKilledMidway_RetrySucceeds_AndContentIsIntact()
    {
        var ws = registry.CreateWorkspace("interrupted");
        var image = await ImageBuilder.BuildAsync(ws, ws.PathOf("layout"), "1", [96 * 1024 * 1024, 8 * 1024]);

        // Killed after a short while, wherever it is (usually in the middle of the big layer's upload).
        foreach (var after in new[] { 0.4, 1.0 })
        {
            var killed = await ExternalTool.RunAsync(
                "skopeo", ["--policy", ws.PolicyFile, "copy", "--dest-tls-verify=false", image.OciReference, ws.Remote("e2e/interrupted:1")],
                ws.Directory, new Dictionary<string, string> { ["TMPDIR"] = ws.TempDirectory }, TimeSpan.FromSeconds(after));
            Assert.True(killed.TimedOut || killed.Succeeded, $"interrupted push failed before it was killed:\n{killed.Describe()}");
        }

        await ws.SkopeoAsync("skopeo copy (retry after interrupted pushes)", "copy", "--dest-tls-verify=false", image.OciReference, ws.Remote("e2e/interrupted:1"));
        Assert.Equal(image.ManifestDigest, OciLayout.Sha256Digest(await ws.InspectRawAsync("e2e/interrupted:1")));
        var back = new OciLayout(ws.PathOf("back"));
        await ws.SkopeoAsync("skopeo copy (pull back)", "copy", "--src-tls-verify=false", ws.Remote("e2e/interrupted:1"), $"oci:{back.Path}:1");
        LayoutAssert.SameContent(image.Layout, back, image.ManifestDigest);
    }
}
