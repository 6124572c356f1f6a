namespace Registry.EdgeHttp.Http;

/// <summary>
/// Tells a malformed request body from a connection that went away. Kestrel reports most malformed
/// bodies as <see cref="BadHttpRequestException"/>, but a chunk size too large for a number comes out as
/// an <see cref="IOException"/> around the parse failure, while the client is still there to be told.
/// </summary>
internal static class MalformedBody
{
    /// <summary>True when the exception is Kestrel failing to parse the body, not the transport failing.</summary>
    public static bool Is(IOException exception) => exception.InnerException is OverflowException or FormatException;
}
