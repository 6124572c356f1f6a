namespace Registry.Benchmarks.Http;

/// <summary>
/// What one response carried, reused by its connection for every request so that a manifest storm
/// allocates nothing per request unless a header value is asked for.
/// </summary>
internal sealed class RawResponse
{
    public int Status { get; set; }

    /// <summary>Content-Length, or -1 when absent.</summary>
    public long ContentLength { get; set; }

    /// <summary>Body bytes actually read.</summary>
    public long BodyBytes { get; set; }

    public bool Chunked { get; set; }

    public bool KeepAlive { get; set; }

    public bool HasRetryAfter { get; set; }

    /// <summary>Location header, only read when the request asked for headers.</summary>
    public string? Location { get; set; }

    /// <summary>Docker-Content-Digest header, only read when the request asked for headers.</summary>
    public string? ContentDigest { get; set; }

    /// <summary>Range header (upload progress), only read when the request asked for headers.</summary>
    public string? Range { get; set; }

    public void Reset()
    {
        Status = 0;
        ContentLength = -1;
        BodyBytes = 0;
        Chunked = false;
        KeepAlive = true;
        HasRetryAfter = false;
        Location = null;
        ContentDigest = null;
        Range = null;
    }
}
