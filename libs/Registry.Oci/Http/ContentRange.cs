namespace Registry.Oci.Http;

/// <summary>Reads the upload Content-Range header, "&lt;start&gt;-&lt;end&gt;" (inclusive, no unit, as the spec writes it).</summary>
public static class ContentRange
{
    /// <summary>Parses an upload Content-Range. Accepts an optional "bytes " or "bytes=" prefix that some clients send.</summary>
    public static bool TryParse(string? header, out long start, out long end)
    {
        start = 0;
        end = 0;
        if (string.IsNullOrWhiteSpace(header))
        {
            return false;
        }

        var span = header.AsSpan().Trim();
        if (span.StartsWith("bytes", StringComparison.OrdinalIgnoreCase))
        {
            span = span[5..].TrimStart().TrimStart('=').TrimStart();
        }

        var slash = span.IndexOf('/');
        if (slash >= 0)
        {
            span = span[..slash];
        }

        var dash = span.IndexOf('-');
        return dash > 0
            && long.TryParse(span[..dash], System.Globalization.NumberStyles.None, null, out start)
            && long.TryParse(span[(dash + 1)..], System.Globalization.NumberStyles.None, null, out end)
            && end >= start
            && end < long.MaxValue; // so that its length, end - start + 1, is a long too
    }
}
