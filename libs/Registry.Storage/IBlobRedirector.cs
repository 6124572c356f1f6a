namespace Registry.Storage;

/// <summary>
/// Makes short-lived URLs from which a client downloads a blob without credentials, so blob bytes
/// bypass the HTTP edge: the blob service's own direct download server signs links to itself, and
/// cloud drivers (S3, Azure) are meant to return presigned URLs through the same seam.
/// </summary>
public interface IBlobRedirector
{
    /// <summary>
    /// Returns an absolute URL serving the whole blob (GET and HEAD, single byte ranges) for a short
    /// time, or null when this blob cannot be offered that way now.
    /// </summary>
    /// <param name="digest">A validated digest ("sha256:…").</param>
    /// <param name="size">The blob's recorded size in bytes.</param>
    /// <param name="cancellationToken">The caller's token.</param>
    ValueTask<string?> GetRedirectUrlAsync(string digest, long size, CancellationToken cancellationToken);
}
