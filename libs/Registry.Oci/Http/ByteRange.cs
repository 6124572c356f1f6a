namespace Registry.Oci.Http;

/// <summary>The outcome of reading a Range request header against a blob of known length.</summary>
public enum RangeOutcome
{
    /// <summary>No usable single range: serve the whole blob with 200 (no header, or several ranges).</summary>
    Full,

    /// <summary>A satisfiable single range: serve it with 206.</summary>
    Partial,

    /// <summary>A range that cannot be served: answer 416 with "Content-Range: bytes */length".</summary>
    Unsatisfiable,
}

/// <summary>Reads single-range "Range: bytes=…" headers as RFC 9110 describes them.</summary>
public static class ByteRange
{
    /// <summary>Resolves a Range header against a blob length.</summary>
    /// <param name="header">The Range header value, or null.</param>
    /// <param name="length">The blob length.</param>
    /// <param name="offset">The first byte to serve when partial.</param>
    /// <param name="count">The number of bytes to serve when partial.</param>
    public static RangeOutcome Resolve(string? header, long length, out long offset, out long count)
    {
        offset = 0;
        count = length;
        if (string.IsNullOrWhiteSpace(header))
        {
            return RangeOutcome.Full;
        }

        var span = header.AsSpan().Trim();
        if (!span.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            // Another unit: a server may ignore it and send the whole representation.
            return RangeOutcome.Full;
        }

        span = span[6..].Trim();
        if (span.Contains(','))
        {
            // Several ranges: answering the whole blob with 200 is allowed and keeps replies simple.
            return RangeOutcome.Full;
        }

        var dash = span.IndexOf('-');
        if (dash < 0)
        {
            return RangeOutcome.Unsatisfiable;
        }

        var first = span[..dash].Trim();
        var last = span[(dash + 1)..].Trim();
        if (first.IsEmpty)
        {
            // Suffix range: the last N bytes.
            if (!TryParseNumber(last, out var suffix) || suffix == 0)
            {
                return RangeOutcome.Unsatisfiable;
            }

            if (length == 0)
            {
                // RFC 9110 14.1.1: satisfiable even for empty content, and no Content-Range can name
                // an empty part, so the (empty) whole is sent.
                return RangeOutcome.Full;
            }

            count = Math.Min(suffix, length);
            offset = length - count;
            return RangeOutcome.Partial;
        }

        if (!TryParseNumber(first, out var start) || start >= length)
        {
            return RangeOutcome.Unsatisfiable;
        }

        long end;
        if (last.IsEmpty)
        {
            end = length - 1;
        }
        else if (!TryParseNumber(last, out end) || end < start)
        {
            return RangeOutcome.Unsatisfiable;
        }

        end = Math.Min(end, length - 1);
        offset = start;
        count = end - start + 1;
        return RangeOutcome.Partial;
    }

    private static bool TryParseNumber(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        if (text.IsEmpty)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }
        }

        return long.TryParse(text, System.Globalization.NumberStyles.None, null, out value);
    }
}
