using System.Text;

namespace Registry.Blob.Downloads;

/// <summary>The outcome of reading a request head from the bytes received so far.</summary>
internal enum HeadParseStatus
{
    /// <summary>No blank line yet: receive more.</summary>
    Incomplete,

    /// <summary>A whole, well-formed head.</summary>
    Complete,

    /// <summary>Not an HTTP/1.x request head: answer 400 and close.</summary>
    Invalid,
}

/// <summary>
/// Reads HTTP/1.x request heads (RFC 9112) strictly enough for a server that answers GET and HEAD of
/// signed blob URLs: CRLF line endings, a request line of three parts, "name: value" header lines.
/// </summary>
internal static class RequestHeadParser
{
    /// <summary>Parses the head at the start of <paramref name="data"/>.</summary>
    public static HeadParseStatus TryParse(ReadOnlySpan<byte> data, out RequestHead head)
    {
        head = default;
        var end = data.IndexOf("\r\n\r\n"u8);
        if (end < 0)
        {
            return HeadParseStatus.Incomplete;
        }

        var lines = data[..(end + 2)];
        var lineEnd = lines.IndexOf("\r\n"u8);
        var requestLine = lines[..lineEnd];
        lines = lines[(lineEnd + 2)..];

        var firstSpace = requestLine.IndexOf((byte)' ');
        var lastSpace = requestLine.LastIndexOf((byte)' ');
        if (firstSpace <= 0 || lastSpace <= firstSpace + 1)
        {
            return HeadParseStatus.Invalid;
        }

        var methodBytes = requestLine[..firstSpace];
        var targetBytes = requestLine[(firstSpace + 1)..lastSpace];
        var version = requestLine[(lastSpace + 1)..];
        bool http11;
        if (version.SequenceEqual("HTTP/1.1"u8))
        {
            http11 = true;
        }
        else if (version.SequenceEqual("HTTP/1.0"u8))
        {
            http11 = false;
        }
        else
        {
            return HeadParseStatus.Invalid;
        }

        if (targetBytes[0] != (byte)'/' || !IsVisibleAscii(targetBytes))
        {
            return HeadParseStatus.Invalid;
        }

        var method = methodBytes.SequenceEqual("GET"u8) ? DownloadMethod.Get
            : methodBytes.SequenceEqual("HEAD"u8) ? DownloadMethod.Head
            : DownloadMethod.Other;

        string? range = null, ifNoneMatch = null, ifRange = null;
        bool? keepAlive = null;
        var hasBody = false;
        while (!lines.IsEmpty)
        {
            lineEnd = lines.IndexOf("\r\n"u8);
            var line = lines[..lineEnd];
            lines = lines[(lineEnd + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[..colon].IndexOfAny((byte)' ', (byte)'\t') >= 0)
            {
                return HeadParseStatus.Invalid;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim(" \t"u8);
            if (Ascii.EqualsIgnoreCase(name, "range"u8))
            {
                range = Encoding.Latin1.GetString(value);
            }
            else if (Ascii.EqualsIgnoreCase(name, "if-none-match"u8))
            {
                // A list may come in several header lines (RFC 9110 5.3).
                var tags = Encoding.Latin1.GetString(value);
                ifNoneMatch = ifNoneMatch is null ? tags : ifNoneMatch + ", " + tags;
            }
            else if (Ascii.EqualsIgnoreCase(name, "if-range"u8))
            {
                ifRange = Encoding.Latin1.GetString(value);
            }
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
            {
                if (HasToken(value, "close"u8))
                {
                    keepAlive = false;
                }
                else if (HasToken(value, "keep-alive"u8))
                {
                    keepAlive = true;
                }
            }
            else if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
            {
                hasBody |= !value.SequenceEqual("0"u8);
            }
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
            {
                hasBody = true;
            }
        }

        head = new RequestHead(method, Encoding.ASCII.GetString(targetBytes), range, keepAlive ?? http11, hasBody, end + 4, ifNoneMatch, ifRange);
        return HeadParseStatus.Complete;
    }

    private static bool IsVisibleAscii(ReadOnlySpan<byte> bytes) => !bytes.ContainsAnyExceptInRange((byte)0x21, (byte)0x7E);

    private static bool HasToken(ReadOnlySpan<byte> value, ReadOnlySpan<byte> token)
    {
        foreach (var part in value.Split((byte)','))
        {
            if (Ascii.EqualsIgnoreCase(value[part].Trim(" \t"u8), token))
            {
                return true;
            }
        }

        return false;
    }
}
