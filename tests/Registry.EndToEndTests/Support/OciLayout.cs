using System.Security.Cryptography;
using System.Text.Json.Nodes;

namespace Registry.EndToEndTests.Support;

/// <summary>Read-only view of an OCI image layout directory (index.json + blobs/sha256/*).</summary>
public sealed class OciLayout(string path)
{
    public const string RefNameAnnotation = "org.opencontainers.image.ref.name";

    public string Path { get; } = path;

    public JsonObject ReadIndex() => JsonNode.Parse(File.ReadAllBytes(System.IO.Path.Combine(Path, "index.json")))!.AsObject();

    /// <summary>The descriptor in index.json carrying the given ref name (or the only one when tag is null).</summary>
    public JsonObject Descriptor(string? tag)
    {
        var manifests = ReadIndex()["manifests"]!.AsArray().Select(m => m!.AsObject()).ToList();
        if (tag is null)
        {
            Assert.True(manifests.Count == 1, $"{Path}/index.json has {manifests.Count} manifests, expected exactly one");
            return manifests[0];
        }

        var match = manifests.Where(m => (string?)m["annotations"]?[RefNameAnnotation] == tag).ToList();
        Assert.True(match.Count == 1, $"{Path}/index.json: {match.Count} descriptors named '{tag}'");
        return match[0];
    }

    public string DigestOf(string? tag) => (string)Descriptor(tag)["digest"]!;

    public string BlobPath(string digest)
    {
        Assert.StartsWith("sha256:", digest, StringComparison.Ordinal);
        return System.IO.Path.Combine(Path, "blobs", "sha256", digest["sha256:".Length..]);
    }

    public byte[] ReadBlob(string digest) => File.ReadAllBytes(BlobPath(digest));

    public JsonObject ReadJsonBlob(string digest) => JsonNode.Parse(ReadBlob(digest))!.AsObject();

    /// <summary>
    /// Every blob reachable from a manifest or index digest (itself included), verified against
    /// its digest. Index children are followed.
    /// </summary>
    public IReadOnlyList<string> ReachableBlobs(string rootDigest)
    {
        var seen = new List<string>();
        var pending = new Stack<string>();
        pending.Push(rootDigest);
        while (pending.Count > 0)
        {
            var digest = pending.Pop();
            if (seen.Contains(digest))
            {
                continue;
            }

            seen.Add(digest);
            var bytes = ReadBlob(digest);
            Assert.True(Sha256Digest(bytes) == digest, $"{BlobPath(digest)} does not hash to {digest}");
            var node = JsonNode.Parse(bytes)!.AsObject();
            if (node["manifests"] is JsonArray children)
            {
                foreach (var child in children)
                {
                    pending.Push((string)child!["digest"]!);
                }
            }
            else
            {
                seen.Add((string)node["config"]!["digest"]!);
                foreach (var layer in node["layers"]!.AsArray())
                {
                    seen.Add((string)layer!["digest"]!);
                }
            }
        }

        return seen;
    }

    public static string Sha256Digest(ReadOnlySpan<byte> bytes) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static string Sha256DigestOfFile(string file)
    {
        using var stream = File.OpenRead(file);
        return "sha256:" + Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
