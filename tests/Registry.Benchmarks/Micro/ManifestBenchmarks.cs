using System.Text;
using BenchmarkDotNet.Attributes;
using Registry.Oci.Digests;
using Registry.Oci.Manifests;

namespace Registry.Benchmarks.Micro;

/// <summary>Parsing and validating what a push sends: a 5-layer OCI image manifest and a 2-entry index.</summary>
[MemoryDiagnoser]
public class ManifestBenchmarks
{
    private byte[] _manifest = [];
    private byte[] _index = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(7);
        string NewDigest()
        {
            var bytes = new byte[32];
            random.NextBytes(bytes);
            return "sha256:" + Convert.ToHexStringLower(bytes);
        }

        var layers = string.Join(',', new[] { 2048, 65536, 524288, 2097152, 8388608 }.Select(size =>
            $"{{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+gzip\",\"digest\":\"{NewDigest()}\",\"size\":{size}}}"));
        _manifest = Encoding.UTF8.GetBytes(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
            + $"\"config\":{{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"{NewDigest()}\",\"size\":1469}},"
            + $"\"layers\":[{layers}],"
            + "\"annotations\":{\"org.opencontainers.image.created\":\"2026-01-01T00:00:00Z\",\"org.opencontainers.image.source\":\"https://example.invalid/app\"}}");

        string Platform(string arch) =>
            $"{{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"{NewDigest()}\",\"size\":1024,"
            + $"\"platform\":{{\"architecture\":\"{arch}\",\"os\":\"linux\"}}}}";
        _index = Encoding.UTF8.GetBytes(
            "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
            + $"\"manifests\":[{Platform("amd64")},{Platform("arm64")}]}}");

        // Both must be accepted, or the benchmark would measure the error path.
        ManifestParser.Parse(_manifest, MediaTypes.OciManifest, DigestAlgorithm.Sha256);
        ManifestParser.Parse(_index, MediaTypes.OciIndex, DigestAlgorithm.Sha256);
    }

    [Benchmark(Description = "Parse OCI image manifest, 5 layers")]
    public ParsedManifest ParseImageManifest() => ManifestParser.Parse(_manifest, MediaTypes.OciManifest, DigestAlgorithm.Sha256);

    [Benchmark(Description = "Parse OCI index, 2 manifests")]
    public ParsedManifest ParseIndex() => ManifestParser.Parse(_index, MediaTypes.OciIndex, DigestAlgorithm.Sha256);
}
