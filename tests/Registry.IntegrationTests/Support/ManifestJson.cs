using System.Text;

namespace Registry.IntegrationTests.Support;

/// <summary>Builds manifest bodies as exact bytes, so tests control every character the registry sees.</summary>
public static class ManifestJson
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    public const string EmptyMediaType = "application/vnd.oci.empty.v1+json";
    public const string LayerMediaType = "application/vnd.oci.image.layer.v1.tar+gzip";

    /// <summary>The OCI empty config, "{}".</summary>
    public static byte[] EmptyConfig => "{}"u8.ToArray();

    public static string Descriptor(string mediaType, string digest, long size, string? extraMembers = null) =>
        $"{{\"mediaType\":\"{mediaType}\",\"digest\":\"{digest}\",\"size\":{size}{(extraMembers is null ? string.Empty : "," + extraMembers)}}}";

    public static byte[] Image(
        string config,
        IEnumerable<string> layers,
        string? mediaTypeField = OciManifest,
        string? subject = null,
        string? artifactType = null,
        string? annotations = null,
        string? extraMembers = null)
    {
        var json = new StringBuilder("{\"schemaVersion\":2");
        if (mediaTypeField is not null)
        {
            json.Append(",\"mediaType\":\"").Append(mediaTypeField).Append('"');
        }

        if (artifactType is not null)
        {
            json.Append(",\"artifactType\":\"").Append(artifactType).Append('"');
        }

        json.Append(",\"config\":").Append(config);
        json.Append(",\"layers\":[").AppendJoin(',', layers).Append(']');
        AppendTail(json, subject, annotations, extraMembers);
        return Encoding.UTF8.GetBytes(json.ToString());
    }

    public static byte[] Index(
        IEnumerable<string> manifests,
        string? mediaTypeField = OciIndex,
        string? subject = null,
        string? artifactType = null,
        string? annotations = null)
    {
        var json = new StringBuilder("{\"schemaVersion\":2");
        if (mediaTypeField is not null)
        {
            json.Append(",\"mediaType\":\"").Append(mediaTypeField).Append('"');
        }

        if (artifactType is not null)
        {
            json.Append(",\"artifactType\":\"").Append(artifactType).Append('"');
        }

        json.Append(",\"manifests\":[").AppendJoin(',', manifests).Append(']');
        AppendTail(json, subject, annotations, null);
        return Encoding.UTF8.GetBytes(json.ToString());
    }

    /// <summary>A descriptor of a manifest with a linux platform, for index entries.</summary>
    public static string Platform(string mediaType, string digest, long size, string architecture = "amd64") =>
        Descriptor(mediaType, digest, size, $"\"platform\":{{\"os\":\"linux\",\"architecture\":\"{architecture}\"}}");

    private static void AppendTail(StringBuilder json, string? subject, string? annotations, string? extraMembers)
    {
        if (subject is not null)
        {
            json.Append(",\"subject\":").Append(subject);
        }

        if (annotations is not null)
        {
            json.Append(",\"annotations\":").Append(annotations);
        }

        if (extraMembers is not null)
        {
            json.Append(',').Append(extraMembers);
        }

        json.Append('}');
    }
}
