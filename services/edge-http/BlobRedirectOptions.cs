namespace Registry.EdgeHttp;

/// <summary>When the edge redirects blob GETs, bound from "Registry:Edge:BlobRedirects".</summary>
public sealed class BlobRedirectOptions
{
    /// <summary>
    /// When true (the default), the edge asks the blob service for a redirect URL on blob GETs without a
    /// Range header and answers 307 when it gets one. The blob service decides whether it offers URLs.
    /// </summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The smallest blob, in bytes, redirected. Default 1 MiB: below it a second round trip costs the client
    /// more than the copy through the edge costs the server.
    /// </summary>
    public long MinimumSize { get; set; } = 1024 * 1024;
}
