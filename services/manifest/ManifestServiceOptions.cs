namespace Registry.Manifest;

/// <summary>Options of the manifest service, bound from "Registry:Manifest".</summary>
public sealed class ManifestServiceOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Registry:Manifest";

    /// <summary>The largest manifest accepted, in bytes. Default 4 MiB, as distribution.</summary>
    public int MaxManifestBytes { get; set; } = Registry.Oci.Manifests.ManifestParser.DefaultMaxManifestBytes;

    /// <summary>The largest page of tags or repositories one call returns. Default 1000.</summary>
    public int MaxPageSize { get; set; } = 1000;
}
