namespace Registry.EdgeHttp;

/// <summary>Options of the HTTP edge, bound from "Registry:Edge".</summary>
public sealed class EdgeOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Registry:Edge";

    /// <summary>
    /// The URL clients reach the registry at, e.g. "https://registry.example.com". When set, Location
    /// headers are absolute URLs under it. Default: none (Location headers are absolute paths).
    /// </summary>
    public string? ExternalUrl { get; set; }

    /// <summary>
    /// When true, Location headers are built from X-Forwarded-Proto and X-Forwarded-Host. Only turn it
    /// on behind a proxy that sets them. Default false.
    /// </summary>
    public bool TrustForwardedHeaders { get; set; }

    /// <summary>
    /// When true (the default), blob downloads read the file the blob service names directly and send it
    /// with sendfile; when false, or when no such file exists, the bytes are streamed over gRPC.
    /// </summary>
    public bool DirectBlobReads { get; set; } = true;

    /// <summary>
    /// When true (the default), upload bodies are written by the edge into a file the blob service names in
    /// the session's folder and handed over by name, so the bytes never cross gRPC; when false, or when the
    /// service has no local files or the edge cannot reach them, they are streamed over gRPC.
    /// </summary>
    public bool DirectUploadWrites { get; set; } = true;

    /// <summary>
    /// When true (the default), those upload bodies are written past the page cache (Linux O_DIRECT, see
    /// Registry.Storage.Filesystem.UncachedFile) where the filesystem allows it; when false, through it.
    /// </summary>
    public bool UncachedUploadWrites { get; set; } = true;

    /// <summary>
    /// Blob GETs of at least <see cref="BlobRedirectOptions.MinimumSize"/> bytes are answered with 307 and a
    /// short-lived URL when the blob service offers one (its direct download server, or a storage driver's
    /// presigned URL); the blob service offers none unless Registry:Blob:DirectDownloads:Enabled is set.
    /// </summary>
    public BlobRedirectOptions BlobRedirects { get; set; } = new();

    /// <summary>
    /// The largest manifest accepted, in bytes. Default 4 MiB; larger pushes get 413. Under a heap limit at
    /// most a 64th of the memory the GC may use (1 MiB at 64 MiB, see <see cref="EffectiveMaxManifestBytes"/>):
    /// a manifest is held whole several times on its way (body, gRPC message, parse, cache).
    /// </summary>
    public int MaxManifestBytes { get; set; } = Registry.Oci.Manifests.ManifestParser.DefaultMaxManifestBytes;

    /// <summary><see cref="MaxManifestBytes"/> for a GC that may use <paramref name="limitBytes"/>.</summary>
    public int EffectiveMaxManifestBytes(long limitBytes) => (int)Math.Min(MaxManifestBytes, Math.Max(limitBytes / 64, 64 * 1024));

    /// <summary>
    /// Connections the edge keeps open at once; a new one past it gets 503 with Retry-After and is closed
    /// (<see cref="Http.ConnectionGate"/>). 0, the default, derives it from the memory the GC may use: that
    /// over 128 KiB (512 under a 64 MiB heap hard limit, no bound in practice without one).
    /// </summary>
    public int MaxConnections { get; set; }

    /// <summary>
    /// At <see cref="MaxConnections"/>, a new connection takes the place of the one that has had no request in
    /// flight for longest, if for at least this long (a keep-alive between requests, or a connection that never
    /// sent one); otherwise it gets 503. Default 1 second.
    /// </summary>
    public TimeSpan EvictIdleAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Connections one client address may hold at once; a new one past it takes the place of that address's own
    /// connection idle longest (at least <see cref="EvictIdleAfter"/>) or gets 429 with Retry-After. 0, the
    /// default: no such limit (behind a proxy every connection shares its address). Without it, a full edge
    /// still takes places from the address holding the most.
    /// </summary>
    public int MaxConnectionsPerClient { get; set; }

    /// <summary>
    /// A blob download whose client reads nothing for this long is cut (each flush of 256 KiB must drain
    /// within it). Default 60 seconds.
    /// </summary>
    public TimeSpan ResponseStallTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Blob bodies the edge sends at once; a GET past them waits up to 2 seconds for a slot, then gets 503.
    /// 0, the default, derives it from the memory the GC may use: a quarter of it over 512 KiB (32 under a
    /// 64 MiB heap hard limit, about 12,000 with 24 GiB).
    /// </summary>
    public int MaxBlobBodies { get; set; }

    /// <summary>
    /// While a blob GET waits for a body slot, the body whose write has waited on its client longest, if for
    /// this long (a reader slower than 256 KiB in this time), is cut to make room. Default 5 seconds;
    /// <c>-00:00:00.001</c> (infinite) never cuts.
    /// </summary>
    public TimeSpan SlowReaderCutAfter { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The deadline of one unary gRPC call to a service. Default 30 seconds.</summary>
    public TimeSpan ServiceCallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A control request (not a blob download or an upload body) still in flight after this long is
    /// stuck: the leak detector's "http_stuck_requests" signal counts it. Default 2 minutes.
    /// </summary>
    public TimeSpan StuckRequestAfter { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>The edge's caches.</summary>
    public Caching.EdgeCacheOptions Cache { get; set; } = new();

    /// <summary>The request pipeline's bounds.</summary>
    public PipelineOptions Pipeline { get; set; } = new();
}
