using System.Text.Json.Nodes;
using Registry.EndToEndTests.Support;

namespace Registry.EndToEndTests;

/// <summary>An OCI image index over two architectures, pushed and pulled with skopeo --all.</summary>
[Collection(RegistryCollection.Name)]
public sealed class MultiArchIndexTests(RegistryFixture registry)
{
    [Fact]
    public async Task OciIndex_CopyAll_PushAndPullBack_IsIntact()
    {
        var ws = registry.CreateWorkspace("multiarch");
        var layoutDir = ws.PathOf("layout");
        var amd64 = await ImageBuilder.BuildAsync(ws, layoutDir, "amd64", [8 * 1024, 400 * 1024], "amd64");
        var arm64 = await ImageBuilder.BuildAsync(ws, layoutDir, "arm64", [5 * 1024, 600 * 1024], "arm64");
        var layout = new OciLayout(layoutDir);
        var indexDigest = ImageBuilder.AddIndex(layout, "multi", [(amd64, "amd64"), (arm64, "arm64")]);

        await ws.SkopeoAsync("skopeo copy --all (push index)", "copy", "--all", "--dest-tls-verify=false", $"oci:{layoutDir}:multi", ws.Remote("e2e/multi:1"));

        var raw = await ws.InspectRawAsync("e2e/multi:1");
        Assert.Equal(indexDigest, OciLayout.Sha256Digest(raw));
        Assert.Equal("application/vnd.oci.image.index.v1+json", (string?)JsonNode.Parse(raw)!["mediaType"]);

        // Each child manifest is reachable by digest, and platform selection resolves to it.
        Assert.Equal(layout.ReadBlob(amd64.ManifestDigest), await ws.InspectRawAsync($"e2e/multi@{amd64.ManifestDigest}"));
        Assert.Equal(layout.ReadBlob(arm64.ManifestDigest), await ws.InspectRawAsync($"e2e/multi@{arm64.ManifestDigest}"));
        var armConfig = JsonNode.Parse((await ws.SkopeoAsync(
            "skopeo inspect --config (arm64)", "--override-arch", "arm64", "--override-os", "linux", "inspect", "--config", "--tls-verify=false", ws.Remote("e2e/multi:1"))).StandardOutput)!;
        Assert.Equal("arm64", (string?)armConfig["architecture"]);
        Assert.Equal("E2E_TAG=arm64", (string?)armConfig["config"]!["Env"]!.AsArray().Last());

        // podman resolves the index to the requested platform.
        var reference = $"{registry.Host}/e2e/multi:1";
        try
        {
            await ws.PodmanAsync("podman pull --arch arm64 (index)", "pull", "--tls-verify=false", "--arch", "arm64", "--os", "linux", reference);
            var arch = await ws.PodmanAsync("podman image inspect", "image", "inspect", "--format", "{{.Architecture}} {{.Digest}}", reference);
            // podman reports the digest of what it was asked for (the index), and the arm64 image's config.
            Assert.Equal($"arm64 {indexDigest}", arch.StandardOutput.Trim());
            var id = await ws.PodmanAsync("podman image inspect (id)", "image", "inspect", "--format", "{{.Id}}", reference);
            Assert.Equal(arm64.ConfigDigest, "sha256:" + id.StandardOutput.Trim());
        }
        finally
        {
            await ws.TryPodmanAsync("rmi", "--all", "--force");
        }

        var back = new OciLayout(ws.PathOf("back"));
        await ws.SkopeoAsync("skopeo copy --all (pull back)", "copy", "--all", "--src-tls-verify=false", ws.Remote("e2e/multi:1"), $"oci:{back.Path}:1");
        Assert.Equal(indexDigest, back.DigestOf("1"));
        LayoutAssert.SameContent(layout, back, indexDigest);
    }
}
