namespace Registry.EdgeHttp.Caching;

/// <summary>Bounds of the edge's caches, bound from "Registry:Edge:Cache".</summary>
public sealed class EdgeCacheOptions
{
    /// <summary>
    /// How long an auth decision is reused for the same credentials and scope. Default 5 seconds;
    /// zero turns the cache off. A revoked grant keeps working for at most this long on each edge.
    /// </summary>
    public TimeSpan AuthDecisionTtl { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The most auth decisions kept. Default 10,000.</summary>
    public int AuthDecisionCapacity { get; set; } = 10_000;

    /// <summary>
    /// Bytes of manifest content kept by digest. Content addressed by digest never changes, so the cache
    /// needs no invalidation; whether a repository still holds it is asked of the manifest service on
    /// every request. Default 64 MiB; zero turns it off.
    /// </summary>
    public long ManifestContentBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// When true (the default), identical manifest reads in flight at the same moment share one call
    /// to the manifest service. Writes through this edge start a fresh call for the repository.
    /// </summary>
    public bool CoalesceManifestReads { get; set; } = true;
}
