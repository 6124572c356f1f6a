namespace Registry.Blob.Downloads;

/// <summary>The request methods the direct download server tells apart.</summary>
internal enum DownloadMethod
{
    /// <summary>GET: headers and body.</summary>
    Get,

    /// <summary>HEAD: the headers a GET would have.</summary>
    Head,

    /// <summary>Anything else: 405.</summary>
    Other,
}

/// <summary>What the server reads from a request head; the rest of the head is ignored.</summary>
/// <param name="Method">The method.</param>
/// <param name="Target">The request target as sent ("/sha256/…?expires=…&amp;sig=…").</param>
/// <param name="Range">The Range header, or null.</param>
/// <param name="KeepAlive">Whether the connection may carry another request after this one.</param>
/// <param name="HasBody">True when the request announces a body (the server reads none and closes).</param>
/// <param name="Length">The head's length in bytes, up to and including the blank line.</param>
/// <param name="IfNoneMatch">The If-None-Match header (several joined with ", "), or null.</param>
/// <param name="IfRange">The If-Range header, or null.</param>
internal readonly record struct RequestHead(
    DownloadMethod Method, string Target, string? Range, bool KeepAlive, bool HasBody, int Length, string? IfNoneMatch = null, string? IfRange = null);
