using System.Text.Json.Nodes;
using Registry.EndToEndTests.Support;

namespace Registry.EndToEndTests;

/// <summary>buildah builds an image from scratch (vfs store in the workspace) and pushes it.</summary>
[Collection(RegistryCollection.Name)]
public sealed class BuildahTests(RegistryFixture registry)
{
    [Fact]
    public async Task Buildah_FromScratch_CommitAndPush_PullsBack()
    {
        var ws = registry.CreateWorkspace("buildah");
        string[] store = ["--root", ws.PathOf("storage"), "--runroot", ws.PodmanRunRoot, "--storage-driver", "vfs"];
        var payload = ws.PathOf("payload.bin");
        await File.WriteAllBytesAsync(payload, ImageBuilder.RandomBytes(300 * 1024));

        var from = (await ws.RunAsync("buildah", [.. store, "from", "scratch"])).EnsureSuccess("buildah from scratch");
        var container = from.StandardOutput.Trim();
        try
        {
            (await ws.RunAsync("buildah", [.. store, "copy", container, payload, "/payload.bin"])).EnsureSuccess("buildah copy");
            (await ws.RunAsync("buildah", [.. store, "config", "--entrypoint", """["/payload.bin"]""", container])).EnsureSuccess("buildah config");
            (await ws.RunAsync("buildah", [.. store, "commit", "--format", "oci", container, "localhost/e2e-buildah:1"])).EnsureSuccess("buildah commit");
            var push = await ws.RunAsync("buildah", [.. store, "push", "--tls-verify=false", "localhost/e2e-buildah:1", ws.Remote("e2e/buildah:1")]);
            if (!push.Succeeded)
            {
                var debug = await ws.RunAsync("buildah", [.. store, "--log-level=debug", "push", "--tls-verify=false", "localhost/e2e-buildah:1", ws.Remote("e2e/buildah:1")]);
                Assert.Fail($"buildah push failed:\n{push.Describe()}\n=== again with --log-level=debug ===\n{debug.Describe()}");
            }

            var raw = await ws.InspectRawAsync("e2e/buildah:1");
            var manifest = JsonNode.Parse(raw)!.AsObject();
            Assert.Equal(OciLayout.Sha256Digest(raw), (string?)(await ws.InspectJsonAsync("e2e/buildah:1"))["Digest"]);
            var back = new OciLayout(ws.PathOf("back"));
            await ws.SkopeoAsync("skopeo copy (pull buildah image)", "copy", "--src-tls-verify=false", ws.Remote("e2e/buildah:1"), $"oci:{back.Path}:1");
            Assert.Equal(OciLayout.Sha256Digest(raw), back.DigestOf("1"));
            back.ReachableBlobs(back.DigestOf("1"));
            Assert.Single(manifest["layers"]!.AsArray());
        }
        finally
        {
            await ws.RunAsync("buildah", [.. store, "rm", "--all"]);
            await ws.RunAsync("buildah", [.. store, "rmi", "--all", "--force"]);
        }
    }
}
