using System.Globalization;
using System.Text;
using Registry.Oci.Digests;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// The content every registry receives: seeded random bytes, so digests are the same on every machine
/// and every registry. An OCI image (config + 5 layers) and one 32 MiB blob with its own manifest.
/// </summary>
internal sealed class Fixtures
{
    public const string ImageRepository = "bench/img";
    public const string ImageTag = "v1";
    public const string BigRepository = "bench/big";
    public const string LayerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";
    public const string ConfigMediaType = "application/vnd.oci.image.config.v1+json";
    public const string ManifestMediaType = "application/vnd.oci.image.manifest.v1+json";

    private static readonly int[] LayerSizes = [2 * 1024, 64 * 1024, 512 * 1024, 2 * 1024 * 1024, 8 * 1024 * 1024];

    private Fixtures(int seed)
    {
        var random = new Random(seed);
        Layers = LayerSizes.Select(size => RandomBytes(random, size)).ToArray();
        LayerDigests = Layers.Select(DigestOf).ToArray();
        Big = RandomBytes(random, 32 * 1024 * 1024);
        BigDigest = DigestOf(Big);

        Config = Encoding.UTF8.GetBytes(
            "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/bin/sh\"]},"
            + "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":["
            + string.Join(',', LayerDigests.Select(d => $"\"{d}\""))
            + "]}}");
        ConfigDigest = DigestOf(Config);
        Manifest = BuildManifest(Config, ConfigDigest, Layers, LayerDigests);
        ManifestDigest = DigestOf(Manifest);

        BigConfig = Encoding.UTF8.GetBytes(
            $"{{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{BigDigest}\"]}}}}");
        BigConfigDigest = DigestOf(BigConfig);
        BigManifest = BuildManifest(BigConfig, BigConfigDigest, [Big], [BigDigest]);
        BigManifestDigest = DigestOf(BigManifest);
    }

    public byte[] Config { get; }

    public string ConfigDigest { get; }

    public byte[][] Layers { get; }

    public string[] LayerDigests { get; }

    public byte[] Manifest { get; }

    public string ManifestDigest { get; }

    public byte[] Big { get; }

    public string BigDigest { get; }

    public byte[] BigConfig { get; }

    public string BigConfigDigest { get; }

    public byte[] BigManifest { get; }

    public string BigManifestDigest { get; }

    /// <summary>Bytes of one full pull: config plus every layer (the manifest not counted).</summary>
    public long PullBytes => Config.Length + Layers.Sum(l => (long)l.Length);

    public static Fixtures Create(int seed = 20261204) => new(seed);

    public static string DigestOf(byte[] content) => Digest.Compute(DigestAlgorithm.Sha256, content).Value;

    private static byte[] RandomBytes(Random random, int size)
    {
        var bytes = new byte[size];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] BuildManifest(byte[] config, string configDigest, byte[][] layers, string[] layerDigests)
    {
        var text = new StringBuilder();
        text.Append("{\"schemaVersion\":2,\"mediaType\":\"").Append(ManifestMediaType).Append("\",");
        text.Append(CultureInfo.InvariantCulture, $"\"config\":{{\"mediaType\":\"{ConfigMediaType}\",\"digest\":\"{configDigest}\",\"size\":{config.Length}}},");
        text.Append("\"layers\":[");
        for (var i = 0; i < layers.Length; i++)
        {
            text.Append(i == 0 ? string.Empty : ",");
            text.Append(CultureInfo.InvariantCulture, $"{{\"mediaType\":\"{LayerMediaType}\",\"digest\":\"{layerDigests[i]}\",\"size\":{layers[i].Length}}}");
        }

        text.Append("],\"annotations\":{\"org.opencontainers.image.title\":\"registry-benchmarks\"}}");
        return Encoding.UTF8.GetBytes(text.ToString());
    }
}
