using Registry.Oci.Digests;

namespace Registry.Oci.Manifests;

/// <summary>What the registry needs to know of a pushed manifest, read once when it is stored.</summary>
public sealed class ParsedManifest
{
    /// <summary>The manifest's media type: the pushed Content-Type or, when absent, its mediaType field.</summary>
    public required string MediaType { get; init; }

    /// <summary>The digest of the exact bytes.</summary>
    public required Digest Digest { get; init; }

    /// <summary>Blobs the manifest references (config and layers); empty for an index.</summary>
    public required IReadOnlyList<ManifestDescriptor> Blobs { get; init; }

    /// <summary>Child manifests of an index; empty for an image manifest.</summary>
    public required IReadOnlyList<ManifestDescriptor> Children { get; init; }

    /// <summary>The subject descriptor, when the manifest refers to another (referrers API).</summary>
    public ManifestDescriptor? Subject { get; init; }

    /// <summary>The artifact type: the artifactType field, else the config media type of an image manifest.</summary>
    public string? ArtifactType { get; init; }

    /// <summary>The annotations object as raw JSON, or null.</summary>
    public string? AnnotationsJson { get; init; }

    /// <summary>True for an OCI index or a Docker manifest list.</summary>
    public bool IsIndex => MediaTypes.IsIndex(MediaType);
}
