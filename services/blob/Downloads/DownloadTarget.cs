namespace Registry.Blob.Downloads;

/// <summary>
/// A direct download request target, "/&lt;algorithm&gt;/&lt;hex&gt;?expires=&lt;unix seconds&gt;&amp;sig=&lt;base64url&gt;".
/// Only the last two path segments count, so a proxy may serve the server under a path prefix.
/// </summary>
/// <param name="Path">"&lt;algorithm&gt;/&lt;hex&gt;", the signed part.</param>
/// <param name="Digest">"&lt;algorithm&gt;:&lt;hex&gt;" (not yet validated).</param>
/// <param name="Expires">The expires parameter, or empty.</param>
/// <param name="Signature">The sig parameter, or empty.</param>
internal readonly record struct DownloadTarget(string Path, string Digest, string Expires, string Signature)
{
    /// <summary>Splits a target; false when the path does not end in two non-empty segments.</summary>
    public static bool TryParse(string target, out DownloadTarget parsed)
    {
        ArgumentNullException.ThrowIfNull(target);
        parsed = default;
        var question = target.IndexOf('?', StringComparison.Ordinal);
        var path = question < 0 ? target.AsSpan() : target.AsSpan(0, question);
        var query = question < 0 ? ReadOnlySpan<char>.Empty : target.AsSpan(question + 1);

        var lastSlash = path.LastIndexOf('/');
        if (lastSlash <= 0 || lastSlash == path.Length - 1)
        {
            return false;
        }

        var hex = path[(lastSlash + 1)..];
        var before = path[..lastSlash];
        var algorithm = before[(before.LastIndexOf('/') + 1)..];
        if (algorithm.IsEmpty)
        {
            return false;
        }

        var expires = ReadOnlySpan<char>.Empty;
        var signature = ReadOnlySpan<char>.Empty;
        foreach (var range in query.Split('&'))
        {
            var pair = query[range];
            if (pair.StartsWith("expires=", StringComparison.Ordinal))
            {
                expires = pair[8..];
            }
            else if (pair.StartsWith("sig=", StringComparison.Ordinal))
            {
                signature = pair[4..];
            }
        }

        parsed = new DownloadTarget($"{algorithm}/{hex}", $"{algorithm}:{hex}", expires.ToString(), signature.ToString());
        return true;
    }
}
