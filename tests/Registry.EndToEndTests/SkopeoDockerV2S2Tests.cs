using System.Text.Json.Nodes;
using Registry.EndToEndTests.Support;

namespace Registry.EndToEndTests;

/// <summary>skopeo --format v2s2: the registry stores and serves Docker schema 2 media types.</summary>
[Collection(RegistryCollection.Name)]
public sealed class SkopeoDockerV2S2Tests(RegistryFixture registry)
{
    private const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";

    [Fact]
    public async Task DockerSchema2_PushAndPullBack_KeepsManifestAndBlobs()
    {
        var ws = registry.CreateWorkspace("v2s2");
        var image = await ImageBuilder.BuildAsync(ws, ws.PathOf("layout"), "1", [10 * 1024, 1024 * 1024]);

        await ws.SkopeoAsync("skopeo copy --format v2s2 (push)", "copy", "--dest-tls-verify=false", "--format", "v2s2", image.OciReference, ws.Remote("e2e/v2s2:1"));

        var raw = await ws.InspectRawAsync("e2e/v2s2:1");
        var manifest = JsonNode.Parse(raw)!.AsObject();
        Assert.Equal(DockerManifest, (string?)manifest["mediaType"]);
        Assert.Equal("application/vnd.docker.container.image.v1+json", (string?)manifest["config"]!["mediaType"]);
        Assert.All(manifest["layers"]!.AsArray(), l => Assert.Equal("application/vnd.docker.image.rootfs.diff.tar.gzip", (string?)l!["mediaType"]));

        // Compressed layers are carried over unchanged; only the manifest/config encoding changes.
        Assert.Equal(image.LayerDigests, manifest["layers"]!.AsArray().Select(l => (string)l!["digest"]!).ToList());

        var inspect = await ws.InspectJsonAsync("e2e/v2s2:1");
        var digest = OciLayout.Sha256Digest(raw);
        Assert.Equal(digest, (string?)inspect["Digest"]);
        Assert.Equal(raw, await ws.InspectRawAsync($"e2e/v2s2@{digest}"));
        var config = await ws.InspectJsonAsync("e2e/v2s2:1", "--config");
        Assert.Equal(ImageBuilder.Entrypoint, (string?)config["config"]!["Entrypoint"]![0]);

        // dir: keeps the manifest bytes as served and names every blob by its digest.
        var back = ws.PathOf("back-dir");
        await ws.SkopeoAsync("skopeo copy (pull back to dir:)", "copy", "--src-tls-verify=false", ws.Remote("e2e/v2s2:1"), "dir:" + back);
        Assert.Equal(raw, await File.ReadAllBytesAsync(Path.Combine(back, "manifest.json")));
        var blobs = new List<string> { (string)manifest["config"]!["digest"]! };
        blobs.AddRange(image.LayerDigests);
        foreach (var d in blobs)
        {
            var file = Path.Combine(back, d["sha256:".Length..]);
            Assert.True(File.Exists(file), $"blob {d} missing from the pulled dir: layout");
            Assert.Equal(d, OciLayout.Sha256DigestOfFile(file));
        }

        foreach (var layer in image.LayerDigests)
        {
            Assert.Equal(image.Layout.ReadBlob(layer), await File.ReadAllBytesAsync(Path.Combine(back, layer["sha256:".Length..])));
        }
    }
}
