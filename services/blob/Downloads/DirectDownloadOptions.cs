namespace Registry.Blob.Downloads;

/// <summary>
/// Options of the direct download server, bound from "Registry:Blob:DirectDownloads". The server sends
/// blob files with sendfile to clients the edge redirects there with a signed, short-lived URL.
/// </summary>
public sealed class DirectDownloadOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Registry:Blob:DirectDownloads";

    /// <summary>When true, the server runs and StatBlob offers redirect URLs to it. Default false.</summary>
    public bool Enabled { get; set; }

    /// <summary>
    /// Where the server listens: "http://IP:port" (port 0 picks a free one at start). Plain HTTP only:
    /// sendfile cannot go through TLS. Default "http://127.0.0.1:0".
    /// </summary>
    public string Url { get; set; } = "http://127.0.0.1:0";

    /// <summary>
    /// The base URL clients reach the server at, put in redirects (e.g. "http://registry.example.com:5001").
    /// Default: the listening address with its bound port (a wildcard address becomes 127.0.0.1).
    /// </summary>
    public string? PublicUrl { get; set; }

    /// <summary>
    /// The HMAC-SHA256 key that signs and checks URLs, base64, at least 32 bytes. Default: a random key
    /// made at start, which is enough while one process both signs and serves; several blob service
    /// instances behind one PublicUrl need the same key.
    /// </summary>
    public string? SigningKey { get; set; }

    /// <summary>How long a signed URL stays valid (checked when a request starts). Default 5 minutes.</summary>
    public TimeSpan UrlLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Connections served at once; more are answered 503 and closed. Default 512.</summary>
    public int MaxConnections { get; set; } = 512;

    /// <summary>
    /// Connections one client address may hold at once; more get 503 and are closed, so that one address
    /// (a slowloris that reconnects as fast as it is evicted) cannot take every place. 0 or less: no such
    /// limit. Default 128, a quarter of the default <see cref="MaxConnections"/>. Clients behind one NAT
    /// or proxy share it.
    /// </summary>
    public int MaxConnectionsPerClient { get; set; } = 128;

    /// <summary>
    /// At <see cref="MaxConnections"/>, a new connection takes the place of the one that has waited longest
    /// for a request head, if that has waited this long (idle keep-alive, or a head trickled in slowly);
    /// otherwise it gets 503. Default 1 second.
    /// </summary>
    public TimeSpan EvictWaitingAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The largest request head (request line and headers) accepted, in bytes. Default 8 KiB.</summary>
    public int MaxRequestHeadBytes { get; set; } = 8 * 1024;

    /// <summary>
    /// A connection that takes longer than this to send a request head, or that takes no bytes of a
    /// response for this long (a stalled reader), is closed; idle keep-alive connections too. Default 30 seconds.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Checks the options; a bad value stops the process at startup.</summary>
    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }

        _ = DirectDownloadEndpoint.ParseListenUrl(Url);
        if (!string.IsNullOrEmpty(PublicUrl)
            && (!Uri.TryCreate(PublicUrl, UriKind.Absolute, out var publicUrl) || publicUrl.Scheme is not ("http" or "https")))
        {
            throw new InvalidOperationException($"{SectionName}:PublicUrl must be an absolute http(s) URL.");
        }

        if (!string.IsNullOrEmpty(SigningKey))
        {
            _ = DownloadSigner.DecodeKey(SigningKey);
        }

        if (UrlLifetime <= TimeSpan.Zero || IdleTimeout <= TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}:UrlLifetime and IdleTimeout must be positive.");
        }

        if (EvictWaitingAfter < TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{SectionName}:EvictWaitingAfter must not be negative.");
        }

        if (MaxConnections < 1 || MaxRequestHeadBytes is < 1024 or > 64 * 1024)
        {
            throw new InvalidOperationException(
                $"{SectionName}:MaxConnections must be at least 1 and MaxRequestHeadBytes between 1 KiB and 64 KiB.");
        }
    }
}
