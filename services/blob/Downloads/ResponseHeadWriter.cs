using System.Globalization;
using System.Text;

namespace Registry.Blob.Downloads;

/// <summary>
/// Writes HTTP/1.1 response heads (and the small JSON error bodies) into a caller's buffer, so a
/// response costs no allocation beyond the buffer the connection already holds.
/// </summary>
internal ref struct ResponseHeadWriter
{
    private readonly Span<byte> _buffer;
    private int _length;

    public ResponseHeadWriter(Span<byte> buffer)
    {
        _buffer = buffer;
    }

    /// <summary>The bytes written so far.</summary>
    public readonly int Length => _length;

    /// <summary>Writes the status line.</summary>
    public void Status(int status)
    {
        Append("HTTP/1.1 ");
        Append(status);
        Append(" ");
        Append(Reason(status));
        Append("\r\n");
    }

    /// <summary>Writes one header line.</summary>
    public void Header(string name, string value)
    {
        Append(name);
        Append(": ");
        Append(value);
        Append("\r\n");
    }

    /// <summary>Writes one header line with a number.</summary>
    public void Header(string name, long value)
    {
        Append(name);
        Append(": ");
        Append(value);
        Append("\r\n");
    }

    /// <summary>Writes "Content-Range: bytes first-last/length".</summary>
    public void ContentRange(long offset, long count, long length)
    {
        Append("Content-Range: bytes ");
        Append(offset);
        Append("-");
        Append(offset + count - 1);
        Append("/");
        Append(length);
        Append("\r\n");
    }

    /// <summary>Writes the Connection header when the connection closes after this response, then the blank line.</summary>
    public void End(bool keepAlive)
    {
        if (!keepAlive)
        {
            Append("Connection: close\r\n");
        }

        Append("\r\n");
    }

    /// <summary>Appends raw ASCII (a body).</summary>
    public void Append(string ascii) => _length += Encoding.ASCII.GetBytes(ascii, _buffer[_length..]);

    private void Append(long value)
    {
        if (!value.TryFormat(_buffer[_length..], out var written, default, CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("The response head does not fit its buffer.");
        }

        _length += written;
    }

    private static string Reason(int status) => status switch
    {
        200 => "OK",
        206 => "Partial Content",
        304 => "Not Modified",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        416 => "Range Not Satisfiable",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    };
}
