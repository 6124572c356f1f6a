using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;

namespace Registry.Benchmarks.Http;

/// <summary>
/// A lean keep-alive HTTP/1.1 client over one socket: prebuilt request heads go out as bytes, responses
/// are parsed in one reusable buffer, bodies are counted (optionally hashed) and dropped. It exists so
/// that the load generator costs little CPU next to the server it measures on the same cores.
/// </summary>
internal sealed class RawHttpConnection : IDisposable
{
    private static readonly byte[] HeadEnd = "\r\n\r\n"u8.ToArray();

    private readonly EndPoint _endPoint;
    private readonly byte[] _buffer;
    private readonly RawResponse _response = new();
    private Socket? _socket;
    private int _start;
    private int _end;

    public RawHttpConnection(EndPoint endPoint, int bufferSize = 16 * 1024)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        _endPoint = endPoint;
        _buffer = new byte[bufferSize];
    }

    public bool IsConnected => _socket is not null;

    /// <summary>
    /// Sends a request and reads its whole response. A request on a reused connection that the server had
    /// already closed (no response byte at all) is sent once more on a fresh connection, as browsers and
    /// HttpClient do.
    /// </summary>
    public async ValueTask<RawResponse> SendAsync(
        ReadOnlyMemory<byte> head,
        ReadOnlyMemory<byte> body,
        bool isHead,
        bool readHeaders,
        IncrementalHash? sink,
        CancellationToken cancellationToken)
    {
        var reused = _socket is not null;
        try
        {
            return await SendOnceAsync(head, body, isHead, readHeaders, sink, cancellationToken);
        }
        catch (StaleConnectionException) when (reused)
        {
            Close();
            return await SendOnceAsync(head, body, isHead, readHeaders, sink, cancellationToken);
        }
    }

    /// <summary>Writes raw bytes (connecting first if needed) without reading anything back.</summary>
    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var socket = await ConnectAsync(cancellationToken);
        await socket.SendAsync(data, SocketFlags.None, cancellationToken);
    }

    /// <summary>
    /// Reads whatever arrives, head included, until <paramref name="limit"/> bytes or the end, and the
    /// response's status. A status other than 200 ends the read at once (an error answer is short and
    /// the connection stays open: waiting for <paramref name="limit"/> bytes would only wait for a timeout).
    /// </summary>
    public async ValueTask<(long Bytes, int Status)> ReadAtMostAsync(long limit, CancellationToken cancellationToken)
    {
        var socket = await ConnectAsync(cancellationToken);
        long total = 0;
        var status = 0;
        while (total < limit)
        {
            var read = await socket.ReceiveAsync(_buffer, SocketFlags.None, cancellationToken);
            if (read == 0)
            {
                break;
            }

            if (total == 0 && read >= 12 && _buffer.AsSpan(0, 5).SequenceEqual("HTTP/"u8))
            {
                // "HTTP/1.1 200 ..."
                status = ((_buffer[9] - '0') * 100) + ((_buffer[10] - '0') * 10) + (_buffer[11] - '0');
            }

            total += read;
            if (status is not (0 or 200))
            {
                break;
            }
        }

        return (total, status);
    }

    public void Close()
    {
        _socket?.Dispose();
        _socket = null;
        _start = 0;
        _end = 0;
    }

    public void Dispose() => Close();

    private async ValueTask<Socket> ConnectAsync(CancellationToken cancellationToken)
    {
        if (_socket is not null)
        {
            return _socket;
        }

        var socket = new Socket(_endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_endPoint, cancellationToken);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _socket = socket;
        _start = 0;
        _end = 0;
        return socket;
    }

    private async ValueTask<RawResponse> SendOnceAsync(
        ReadOnlyMemory<byte> head,
        ReadOnlyMemory<byte> body,
        bool isHead,
        bool readHeaders,
        IncrementalHash? sink,
        CancellationToken cancellationToken)
    {
        var socket = await ConnectAsync(cancellationToken);
        try
        {
            await socket.SendAsync(head, SocketFlags.None, cancellationToken);
            if (!body.IsEmpty)
            {
                await socket.SendAsync(body, SocketFlags.None, cancellationToken);
            }
        }
        catch (SocketException)
        {
            throw new StaleConnectionException();
        }

        _response.Reset();
        var headLength = await ReadHeadAsync(cancellationToken);
        ParseHead(_buffer.AsSpan(_start, headLength), readHeaders);
        _start += headLength;

        var status = _response.Status;
        var noBody = isHead || status is 204 or 304 || (status >= 100 && status < 200);
        if (!noBody)
        {
            if (_response.Chunked)
            {
                await ReadChunkedAsync(sink, cancellationToken);
            }
            else if (_response.ContentLength >= 0)
            {
                await ReadBodyAsync(_response.ContentLength, sink, cancellationToken);
            }
            else
            {
                await ReadBodyAsync(long.MaxValue, sink, cancellationToken);
                _response.KeepAlive = false;
            }
        }

        if (!_response.KeepAlive)
        {
            Close();
        }

        return _response;
    }

    // Returns the length of the head including its blank line, leaving it at _start.
    private async ValueTask<int> ReadHeadAsync(CancellationToken cancellationToken)
    {
        var receivedAny = _end > _start;
        while (true)
        {
            var end = _buffer.AsSpan(_start, _end - _start).IndexOf(HeadEnd);
            if (end >= 0)
            {
                return end + HeadEnd.Length;
            }

            int read;
            try
            {
                read = await FillAsync(cancellationToken);
            }
            catch (SocketException) when (!receivedAny)
            {
                throw new StaleConnectionException();
            }

            if (read == 0)
            {
                if (!receivedAny)
                {
                    throw new StaleConnectionException();
                }

                throw new IOException("connection closed inside a response head");
            }

            receivedAny = true;
        }
    }

    private void ParseHead(ReadOnlySpan<byte> head, bool readHeaders)
    {
        var lineEnd = head.IndexOf("\r\n"u8);
        var statusLine = head[..lineEnd];
        if (statusLine.Length < 12 || !statusLine.StartsWith("HTTP/1."u8)
            || !Utf8Parser.TryParse(statusLine.Slice(9, 3), out int status, out _))
        {
            throw new IOException("malformed status line");
        }

        _response.Status = status;
        if (statusLine[7] == (byte)'0')
        {
            _response.KeepAlive = false;
        }

        var rest = head[(lineEnd + 2)..];
        while (true)
        {
            lineEnd = rest.IndexOf("\r\n"u8);
            if (lineEnd <= 0)
            {
                break;
            }

            var line = rest[..lineEnd];
            rest = rest[(lineEnd + 2)..];
            var colon = line.IndexOf((byte)':');
            if (colon <= 0)
            {
                continue;
            }

            var name = line[..colon];
            var value = line[(colon + 1)..].Trim((byte)' ');
            if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
            {
                _response.ContentLength = Utf8Parser.TryParse(value, out long length, out _) ? length : -1;
            }
            else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
            {
                _response.Chunked = Ascii.EqualsIgnoreCase(value, "chunked"u8);
            }
            else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
            {
                _response.KeepAlive = !Ascii.EqualsIgnoreCase(value, "close"u8);
            }
            else if (Ascii.EqualsIgnoreCase(name, "retry-after"u8))
            {
                _response.HasRetryAfter = true;
            }
            else if (readHeaders)
            {
                if (Ascii.EqualsIgnoreCase(name, "location"u8))
                {
                    _response.Location = Encoding.ASCII.GetString(value);
                }
                else if (Ascii.EqualsIgnoreCase(name, "docker-content-digest"u8))
                {
                    _response.ContentDigest = Encoding.ASCII.GetString(value);
                }
                else if (Ascii.EqualsIgnoreCase(name, "range"u8))
                {
                    _response.Range = Encoding.ASCII.GetString(value);
                }
            }
        }
    }

    private async ValueTask ReadBodyAsync(long length, IncrementalHash? sink, CancellationToken cancellationToken)
    {
        var remaining = length;
        while (remaining > 0)
        {
            if (_end == _start && await FillAsync(cancellationToken) == 0)
            {
                if (length == long.MaxValue)
                {
                    return;
                }

                throw new IOException("connection closed inside a response body");
            }

            var take = (int)Math.Min(remaining, _end - _start);
            sink?.AppendData(_buffer, _start, take);
            _start += take;
            remaining -= take;
            _response.BodyBytes += take;
        }
    }

    private async ValueTask ReadChunkedAsync(IncrementalHash? sink, CancellationToken cancellationToken)
    {
        while (true)
        {
            var sizeLine = await ReadLineAsync(cancellationToken);
            var semicolon = sizeLine.IndexOf(';');
            var hex = semicolon >= 0 ? sizeLine[..semicolon] : sizeLine;
            var size = long.Parse(hex.Trim(), System.Globalization.NumberStyles.HexNumber, null);
            if (size == 0)
            {
                // Trailers, if any, end with an empty line.
                while ((await ReadLineAsync(cancellationToken)).Length > 0)
                {
                }

                return;
            }

            await ReadBodyAsync(size, sink, cancellationToken);
            await ReadLineAsync(cancellationToken);
        }
    }

    private async ValueTask<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n"u8);
            if (end >= 0)
            {
                var line = Encoding.ASCII.GetString(_buffer, _start, end);
                _start += end + 2;
                return line;
            }

            if (await FillAsync(cancellationToken) == 0)
            {
                throw new IOException("connection closed inside a chunked body");
            }
        }
    }

    // Receives more bytes after the unread ones, moving them to the front first when space runs out.
    private async ValueTask<int> FillAsync(CancellationToken cancellationToken)
    {
        if (_start == _end)
        {
            _start = 0;
            _end = 0;
        }
        else if (_end == _buffer.Length)
        {
            if (_start == 0)
            {
                throw new IOException("response head larger than the receive buffer");
            }

            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        var socket = _socket ?? throw new InvalidOperationException("not connected");
        var read = await socket.ReceiveAsync(_buffer.AsMemory(_end), SocketFlags.None, cancellationToken);
        _end += read;
        return read;
    }

    private sealed class StaleConnectionException : IOException
    {
        public StaleConnectionException()
            : base("the server closed the connection before answering")
        {
        }
    }
}
