namespace Registry.Oci.Http;

/// <summary>
/// The conditional request headers RFC 9110 defines, for content whose entity tag is its digest: such
/// a tag is strong and never changes while the content exists.
/// </summary>
public static class EntityTag
{
    /// <summary>
    /// True when an If-None-Match header names <paramref name="digest"/> (weakly compared, as RFC 9110
    /// 13.1.2 asks) or is "*": the client holds the current content and gets 304.
    /// </summary>
    public static bool HasCurrentCopy(string? header, string digest)
    {
        if (string.IsNullOrEmpty(header))
        {
            return false;
        }

        foreach (var range in header.AsSpan().Split(','))
        {
            var candidate = header.AsSpan()[range].Trim();
            if (candidate.StartsWith("W/", StringComparison.Ordinal))
            {
                candidate = candidate[2..];
            }

            if (candidate is "*" || Unquote(candidate).SequenceEqual(digest))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// True when a Range header may be honoured under <paramref name="ifRange"/> (RFC 9110 13.1.5): no
    /// If-Range, or a strong entity tag equal to the digest's. A date never matches, since no
    /// Last-Modified is sent, nor does a weak tag; the whole content is then sent with 200.
    /// </summary>
    public static bool RangeApplies(string? ifRange, string digest)
    {
        if (string.IsNullOrEmpty(ifRange))
        {
            return true;
        }

        var value = ifRange.AsSpan().Trim();
        return value.Length >= 2 && value[0] == '"' && value[^1] == '"' && value[1..^1].SequenceEqual(digest);
    }

    private static ReadOnlySpan<char> Unquote(ReadOnlySpan<char> value) =>
        value.Length >= 2 && value[0] == '"' && value[^1] == '"' ? value[1..^1] : value;
}
