using Registry.Oci.Digests;

namespace Registry.Oci.Manifests;

/// <summary>A validated descriptor read from a manifest.</summary>
/// <param name="MediaType">The referenced content's media type.</param>
/// <param name="Digest">The referenced content's digest.</param>
/// <param name="Size">The referenced content's size in bytes.</param>
/// <param name="HasUrls">True when the descriptor lists external URLs.</param>
public sealed record ManifestDescriptor(string MediaType, Digest Digest, long Size, bool HasUrls)
{
    /// <summary>
    /// True for a layer that need not be stored here: one with external URLs whose media type says it may
    /// not be distributed (OCI non-distributable layers, Docker foreign layers), as distribution allows.
    /// Any other descriptor must name content this registry holds, URLs or not.
    /// </summary>
    public bool IsForeign => HasUrls
        && (MediaType.StartsWith(MediaTypes.OciNonDistributableLayerPrefix, StringComparison.Ordinal)
            || MediaType.Equals(MediaTypes.DockerForeignLayer, StringComparison.Ordinal));
}
