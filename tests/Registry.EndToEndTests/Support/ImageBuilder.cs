using System.Text.Json.Nodes;

namespace Registry.EndToEndTests.Support;

/// <summary>A locally built image: its layout, tag and the manifest digest umoci recorded.</summary>
public sealed record LocalImage(OciLayout Layout, string Tag, string ManifestDigest)
{
    public string OciReference => $"oci:{Layout.Path}:{Tag}";

    public JsonObject Manifest => Layout.ReadJsonBlob(ManifestDigest);

    public IReadOnlyList<string> LayerDigests => Manifest["layers"]!.AsArray().Select(l => (string)l!["digest"]!).ToList();

    public string ConfigDigest => (string)Manifest["config"]!["digest"]!;
}

/// <summary>Builds real multi-layer OCI images with umoci from random content; no engine, no downloads.</summary>
public static class ImageBuilder
{
    public const string Entrypoint = "/bin/e2e-app";

    /// <summary>
    /// Builds tag <paramref name="tag"/> in the layout at <paramref name="layoutDir"/> (created when
    /// missing) with one layer per entry of <paramref name="layerSizes"/>, each holding random files.
    /// </summary>
    public static async Task<LocalImage> BuildAsync(TestWorkspace ws, string layoutDir, string tag, int[] layerSizes, string? architecture = null)
    {
        if (!Directory.Exists(layoutDir))
        {
            (await ws.RunAsync("umoci", ["init", "--layout", layoutDir]).ConfigureAwait(false)).EnsureSuccess("umoci init");
        }

        var image = $"{layoutDir}:{tag}";
        (await ws.RunAsync("umoci", ["new", "--image", image]).ConfigureAwait(false)).EnsureSuccess("umoci new");
        for (var i = 0; i < layerSizes.Length; i++)
        {
            var src = ws.PathOf($"src-{tag}-{i}");
            Directory.CreateDirectory(src);
            await File.WriteAllBytesAsync(Path.Combine(src, "random.bin"), RandomBytes(layerSizes[i])).ConfigureAwait(false);
            await File.WriteAllTextAsync(Path.Combine(src, "info.txt"), $"layer {i} of {tag} {Guid.NewGuid()}\n").ConfigureAwait(false);
            (await ws.RunAsync("umoci", ["insert", "--image", image, src, $"/data/layer{i}"]).ConfigureAwait(false)).EnsureSuccess($"umoci insert layer {i}");
        }

        List<string> config = ["config", "--image", image, "--config.entrypoint", Entrypoint, "--config.env", "E2E_TAG=" + tag, "--config.label", "e2e.test=true"];
        if (architecture is not null)
        {
            config.AddRange(["--architecture", architecture, "--os", "linux"]);
        }

        (await ws.RunAsync("umoci", config).ConfigureAwait(false)).EnsureSuccess("umoci config");
        (await ws.RunAsync("umoci", ["gc", "--layout", layoutDir]).ConfigureAwait(false)).EnsureSuccess("umoci gc");

        var layout = new OciLayout(layoutDir);
        var local = new LocalImage(layout, tag, layout.DigestOf(tag));
        Assert.Equal(layerSizes.Length, local.LayerDigests.Count);
        return local;
    }

    /// <summary>Adds one random layer on top of <paramref name="baseTag"/> as a new tag; base layers are shared.</summary>
    public static async Task<LocalImage> DeriveAsync(TestWorkspace ws, OciLayout layout, string baseTag, string tag, int layerSize)
    {
        var src = ws.PathOf($"src-{tag}");
        Directory.CreateDirectory(src);
        await File.WriteAllBytesAsync(Path.Combine(src, "random.bin"), RandomBytes(layerSize)).ConfigureAwait(false);
        (await ws.RunAsync("umoci", ["insert", "--image", $"{layout.Path}:{baseTag}", "--tag", tag, src, $"/data/{tag}"]).ConfigureAwait(false)).EnsureSuccess($"umoci insert --tag {tag}");
        return new LocalImage(layout, tag, layout.DigestOf(tag));
    }

    /// <summary>
    /// Writes an OCI image index over the given images (each with its architecture) into the same
    /// layout and names it <paramref name="tag"/>. Returns the index digest.
    /// </summary>
    public static string AddIndex(OciLayout layout, string tag, IEnumerable<(LocalImage Image, string Architecture)> images)
    {
        var manifests = new JsonArray();
        foreach (var (image, arch) in images)
        {
            var bytes = layout.ReadBlob(image.ManifestDigest);
            manifests.Add(new JsonObject
            {
                ["mediaType"] = "application/vnd.oci.image.manifest.v1+json",
                ["digest"] = image.ManifestDigest,
                ["size"] = bytes.Length,
                ["platform"] = new JsonObject { ["architecture"] = arch, ["os"] = "linux" },
            });
        }

        var index = new JsonObject
        {
            ["schemaVersion"] = 2,
            ["mediaType"] = "application/vnd.oci.image.index.v1+json",
            ["manifests"] = manifests,
            ["annotations"] = new JsonObject { ["e2e.test"] = "multi-arch" },
        };
        var indexBytes = System.Text.Encoding.UTF8.GetBytes(index.ToJsonString());
        var digest = OciLayout.Sha256Digest(indexBytes);
        File.WriteAllBytes(layout.BlobPath(digest), indexBytes);

        var top = layout.ReadIndex();
        top["manifests"]!.AsArray().Add(new JsonObject
        {
            ["mediaType"] = "application/vnd.oci.image.index.v1+json",
            ["digest"] = digest,
            ["size"] = indexBytes.Length,
            ["annotations"] = new JsonObject { [OciLayout.RefNameAnnotation] = tag },
        });
        File.WriteAllText(Path.Combine(layout.Path, "index.json"), top.ToJsonString());
        return digest;
    }

    public static byte[] RandomBytes(int size)
    {
        var bytes = new byte[size];
        System.Security.Cryptography.RandomNumberGenerator.Fill(bytes);
        return bytes;
    }
}
