namespace Registry.EdgeHttp.Http;

/// <summary>
/// What the registry makes of a request body's framing. Tells a malformed request body from a connection
/// that went away. Kestrel reports most malformed
/// bodies as <see cref="BadHttpRequestException"/>, but a chunk size too large for a number comes out as
/// an <see cref="IOException"/> around the parse failure, while the client is still there to be told.
/// </summary>
internal static class MalformedBody
{
    /// <summary>True when the exception is Kestrel failing to parse the body, not the transport failing.</summary>
    public static bool Is(IOException exception) => exception.InnerException is OverflowException or FormatException;

    /// <summary>
    /// True when the transfer coding is chunked, once, the only one the registry takes: Kestrel removes
    /// the chunked framing and passes any other coding (gzip, deflate) through as though it were content,
    /// and it removes only one layer of chunked, which RFC 9112 7 forbids applying twice (a proxy in front
    /// could frame such a body differently).
    /// </summary>
    public static bool IsChunkedOnly(Microsoft.Extensions.Primitives.StringValues transferEncoding)
    {
        var chunked = 0;
        foreach (var value in transferEncoding)
        {
            foreach (var coding in (value ?? string.Empty).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (!coding.Equals("chunked", StringComparison.OrdinalIgnoreCase))
                {
                    return false;
                }

                chunked++;
            }
        }

        return chunked == 1;
    }
}
