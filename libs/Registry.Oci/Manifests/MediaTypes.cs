namespace Registry.Oci.Manifests;

/// <summary>Media types the registry knows by name.</summary>
public static class MediaTypes
{
    public const string OciManifest = "application/vnd.oci.image.manifest.v1+json";
    public const string OciIndex = "application/vnd.oci.image.index.v1+json";
    public const string DockerManifest = "application/vnd.docker.distribution.manifest.v2+json";
    public const string DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json";
    public const string DockerSchema1 = "application/vnd.docker.distribution.manifest.v1+json";
    public const string DockerSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws";
    public const string OctetStream = "application/octet-stream";
    public const string OciNonDistributableLayerPrefix = "application/vnd.oci.image.layer.nondistributable.v1.tar";
    public const string DockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

    /// <summary>True for the two index types (OCI index, Docker manifest list).</summary>
    public static bool IsIndex(string mediaType) =>
        string.Equals(mediaType, OciIndex, StringComparison.Ordinal)
        || string.Equals(mediaType, DockerManifestList, StringComparison.Ordinal);

    /// <summary>True for the two image manifest types.</summary>
    public static bool IsImageManifest(string mediaType) =>
        string.Equals(mediaType, OciManifest, StringComparison.Ordinal)
        || string.Equals(mediaType, DockerManifest, StringComparison.Ordinal);

    /// <summary>Strips parameters ("; charset=utf-8") and surrounding white space from a Content-Type.</summary>
    public static string WithoutParameters(string? contentType)
    {
        if (string.IsNullOrEmpty(contentType))
        {
            return string.Empty;
        }

        var semicolon = contentType.IndexOf(';');
        var type = semicolon < 0 ? contentType.AsSpan() : contentType.AsSpan(0, semicolon);
        type = type.Trim();
        return type.Length == contentType.Length ? contentType : type.ToString();
    }
}
