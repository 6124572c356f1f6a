using System.Text.Json.Nodes;
using Registry.EndToEndTests.Support;

namespace Registry.EndToEndTests;

/// <summary>podman (vfs store in the test's workspace) pulls from and pushes to the registry.</summary>
[Collection(RegistryCollection.Name)]
public sealed class PodmanTests(RegistryFixture registry)
{
    [Fact]
    public async Task Podman_PullImagesDigests_PushNewTag_SkopeoInspects()
    {
        var ws = registry.CreateWorkspace("podman");
        var image = await ImageBuilder.BuildAsync(ws, ws.PathOf("layout"), "1", [4 * 1024, 512 * 1024, 1536 * 1024]);
        await ws.SkopeoAsync("skopeo copy (push for podman)", "copy", "--dest-tls-verify=false", image.OciReference, ws.Remote("e2e/podman:1"));

        var reference = $"{registry.Host}/e2e/podman:1";
        try
        {
            await ws.PodmanAsync("podman pull", "pull", "--tls-verify=false", reference);
            var digests = await ws.PodmanAsync("podman images --digests", "images", "--digests", "--format", "{{.Digest}}", reference);
            Assert.Equal(image.ManifestDigest, digests.StandardOutput.Trim());

            await ws.PodmanAsync("podman pull by digest", "pull", "--tls-verify=false", $"{registry.Host}/e2e/podman@{image.ManifestDigest}");

            var pushed = $"{registry.Host}/e2e/podman:pushed";
            await ws.PodmanAsync("podman tag", "tag", reference, pushed);
            await ws.PodmanAsync("podman push", "push", "--tls-verify=false", pushed);

            // podman may re-serialize the manifest; whatever it pushed must be served consistently.
            var raw = await ws.InspectRawAsync("e2e/podman:pushed");
            var inspect = await ws.InspectJsonAsync("e2e/podman:pushed");
            Assert.Equal(OciLayout.Sha256Digest(raw), (string?)inspect["Digest"]);
            var manifest = JsonNode.Parse(raw)!.AsObject();
            Assert.Equal(image.LayerDigests.Count, manifest["layers"]!.AsArray().Count);
            var config = await ws.InspectJsonAsync("e2e/podman:pushed", "--config");
            Assert.Equal(ImageBuilder.Entrypoint, (string?)config["config"]!["Entrypoint"]![0]);

            var back = ws.PathOf("back-dir");
            await ws.SkopeoAsync("skopeo copy (pull the podman push)", "copy", "--src-tls-verify=false", ws.Remote("e2e/podman:pushed"), "dir:" + back);
            Assert.Equal(raw, await File.ReadAllBytesAsync(Path.Combine(back, "manifest.json")));
            foreach (var d in manifest["layers"]!.AsArray().Select(l => (string)l!["digest"]!).Append((string)manifest["config"]!["digest"]!))
            {
                Assert.Equal(d, OciLayout.Sha256DigestOfFile(Path.Combine(back, d["sha256:".Length..])));
            }

            var tags = await ws.SkopeoAsync("skopeo list-tags", "list-tags", "--tls-verify=false", ws.Remote("e2e/podman"));
            var tagList = JsonNode.Parse(tags.StandardOutput)!["Tags"]!.AsArray().Select(t => (string)t!).ToList();
            Assert.Contains("1", tagList);
            Assert.Contains("pushed", tagList);
        }
        finally
        {
            await ws.TryPodmanAsync("rmi", "--all", "--force");
        }
    }
}
