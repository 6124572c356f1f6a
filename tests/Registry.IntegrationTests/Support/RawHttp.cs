using System.Net.Sockets;
using System.Text;

namespace Registry.IntegrationTests.Support;

/// <summary>
/// Sends a hand-written HTTP/1.1 request, for what HttpClient cannot express (two separate header
/// lines of one name, an escaped slash kept as written, header bytes above 0x7F, a Content-Length it
/// would not write). Reads the answer to the end of the connection.
/// </summary>
public static class RawHttp
{
    public static Task<RawResponse> SendAsync(Uri address, string method, string target, params string[] headers) =>
        SendWithBodyAsync(address, method, target, [], headers);

    /// <summary>As <see cref="SendAsync"/>, with <paramref name="body"/> after the head (its framing headers are the caller's).</summary>
    public static async Task<RawResponse> SendWithBodyAsync(Uri address, string method, string target, byte[] body, params string[] headers)
    {
        using var cts = new CancellationTokenSource(Timeouts.Request);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port, cts.Token);
        var stream = tcp.GetStream();
        var request = new StringBuilder()
            .Append(method).Append(' ').Append(target).Append(" HTTP/1.1\r\n")
            .Append("Host: ").Append(address.Authority).Append("\r\n")
            .Append("Connection: close\r\n");
        foreach (var header in headers)
        {
            request.Append(header).Append("\r\n");
        }

        request.Append("\r\n");
        // Latin-1: one byte per character, so a test can send bytes above 0x7F as they are.
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request.ToString()), cts.Token);
        await stream.WriteAsync(body, cts.Token);

        using var received = new MemoryStream();
        await stream.CopyToAsync(received, cts.Token);
        return RawResponse.Parse(received.ToArray());
    }
}

/// <summary>A parsed raw HTTP response.</summary>
public sealed class RawResponse
{
    private RawResponse(int status, IReadOnlyList<KeyValuePair<string, string>> headers, byte[] body)
    {
        Status = status;
        Headers = headers;
        Body = body;
    }

    public int Status { get; }

    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; }

    /// <summary>The bytes after the header block, as sent (not de-chunked).</summary>
    public byte[] Body { get; }

    public string? Header(string name) =>
        Headers.Where(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase))
            .Select(h => h.Value)
            .FirstOrDefault();

    public static RawResponse Parse(byte[] data)
    {
        var end = data.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(end > 0, "No complete response header block: " + Encoding.ASCII.GetString(data));
        var lines = Encoding.ASCII.GetString(data, 0, end).Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var headers = lines.Skip(1)
            .Select(line => line.Split(':', 2))
            .Select(parts => new KeyValuePair<string, string>(parts[0].Trim(), parts.Length > 1 ? parts[1].Trim() : string.Empty))
            .ToList();
        var body = data[(end + 4)..];
        var chunked = headers.Any(h => string.Equals(h.Key, "Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
            && h.Value.Contains("chunked", StringComparison.OrdinalIgnoreCase));
        return new RawResponse(status, headers, chunked ? Dechunk(body) : body);
    }

    private static byte[] Dechunk(byte[] data)
    {
        using var output = new MemoryStream();
        var position = 0;
        while (position < data.Length)
        {
            var lineEnd = data.AsSpan(position).IndexOf("\r\n"u8);
            Assert.True(lineEnd >= 0, "Truncated chunk header");
            var sizeText = Encoding.ASCII.GetString(data, position, lineEnd).Split(';')[0].Trim();
            var size = int.Parse(sizeText, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            position += lineEnd + 2;
            if (size == 0)
            {
                break;
            }

            output.Write(data, position, size);
            position += size + 2;
        }

        return output.ToArray();
    }
}
