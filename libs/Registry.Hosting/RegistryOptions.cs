namespace Registry.Hosting;

/// <summary>Settings every registry process shares, bound from the "Registry" configuration section.</summary>
public sealed class RegistryOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Registry";

    /// <summary>
    /// The folder that holds blobs, upload sessions and metadata databases. Default "./data" below the
    /// working directory; set by --data-dir, Registry:DataDir or REGISTRY__DATADIR.
    /// </summary>
    public string DataDir { get; set; } = "data";

    /// <summary>
    /// How long a stopping process (SIGTERM, Ctrl+C) lets in-flight requests finish before it cancels
    /// them. Default 30 seconds.
    /// </summary>
    public TimeSpan ShutdownGracePeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The data directory as an absolute path.</summary>
    public string DataDirFullPath => Path.GetFullPath(DataDir);

    /// <summary>The metadata database folder.</summary>
    public string MetadataDir => Path.Combine(DataDirFullPath, "metadata");
}
