using System.Buffers;
using System.Net.Sockets;
using Microsoft.Win32.SafeHandles;
using Registry.Oci.Digests;
using Registry.Oci.Http;
using Registry.Storage;

namespace Registry.Blob.Downloads;

/// <summary>
/// One client connection of the direct download server: reads request heads (keep-alive, pipelining
/// tolerated), answers each, and sends blob bodies with sendfile. While idle it holds no buffer; while
/// serving it holds the request head buffer and a 1 KiB response head buffer, never a body buffer.
/// </summary>
internal sealed partial class DownloadConnection : IDisposable
{
    // One sendfile operation per chunk: small enough that the idle timeout also bounds a stalled reader.
    private const int SendChunkBytes = 2 * 1024 * 1024;
    private const int ResponseHeadBytes = 1024;

    private readonly Socket _socket;
    private readonly DirectDownloadServer _server;
    private readonly DirectDownloadOptions _options;
    private readonly ILogger _logger;

    // Fires on the idle timeout or when shutdown runs out of time, and then closes the socket,
    // which ends whatever receive or sendfile is pending.
    private readonly CancellationTokenSource _deadline;

    // Receives also end when the server starts stopping: idle connections close at once.
    private readonly CancellationTokenSource _reads;
    private readonly CancellationTokenRegistration _closeOnDeadline;
    private SendPacketsOperation? _send;

    // When the connection began waiting for its next request head (Environment.TickCount64); 0 while it
    // serves one; -1 once the server took it back for a new connection (TryEvict).
    private long _waitingSince;

    public DownloadConnection(Socket socket, DirectDownloadServer server, ILogger logger)
    {
        _socket = socket;
        _server = server;
        _options = server.Options;
        _logger = logger;
        _deadline = CancellationTokenSource.CreateLinkedTokenSource(server.Aborting);
        _reads = CancellationTokenSource.CreateLinkedTokenSource(_deadline.Token, server.Stopping);
        _closeOnDeadline = _deadline.Token.UnsafeRegister(static state => ((Socket)state!).Dispose(), socket);
    }

    /// <summary>Serves requests until the client closes, an error, the idle timeout or shutdown.</summary>
    public async Task RunAsync()
    {
        byte[]? buffer = null;
        var buffered = 0;
        var limit = _options.MaxRequestHeadBytes;
        try
        {
            while (true)
            {
                _deadline.CancelAfter(_options.IdleTimeout);
                if (Interlocked.Exchange(ref _waitingSince, Environment.TickCount64) < 0)
                {
                    return;
                }

                if (buffered == 0)
                {
                    // A zero-byte receive waits for data without a buffer, so idle keep-alive connections hold none.
                    await _socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, _reads.Token);
                }

                buffer ??= ArrayPool<byte>.Shared.Rent(limit);
                RequestHead head;
                while (true)
                {
                    var status = RequestHeadParser.TryParse(buffer.AsSpan(0, buffered), out head);
                    if (status == HeadParseStatus.Complete)
                    {
                        break;
                    }

                    if (status == HeadParseStatus.Invalid || buffered >= limit)
                    {
                        DownloadMetrics.Rejections.WithLabels("bad_request").Inc();
                        var error = status == HeadParseStatus.Invalid ? DownloadError.BadRequest : DownloadError.HeadTooLarge;
                        await SendErrorAsync(error, keepAlive: false, withBody: true);
                        return;
                    }

                    var read = await _socket.ReceiveAsync(buffer.AsMemory(buffered, limit - buffered), SocketFlags.None, _reads.Token);
                    if (read == 0)
                    {
                        return;
                    }

                    buffered += read;
                }

                if (Interlocked.Exchange(ref _waitingSince, 0) < 0)
                {
                    // Taken back by the server while the head arrived: the place is promised to another.
                    return;
                }

                if (!await ServeAsync(head) || _server.Stopping.IsCancellationRequested)
                {
                    return;
                }

                // Keep what the client pipelined after this head for the next round.
                buffered -= head.Length;
                buffer.AsSpan(head.Length, buffered).CopyTo(buffer);
                if (buffered == 0)
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = null;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Idle timeout or shutdown while waiting for a request: just close.
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
            Log.ConnectionFailed(_logger, ex.Message);
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>
    /// Closes the connection if it has been waiting for a request head since <paramref name="waitingBefore"/>
    /// or earlier (idle between requests, or sending its head too slowly); never one serving a request.
    /// </summary>
    public bool TryEvict(long waitingBefore)
    {
        var since = Volatile.Read(ref _waitingSince);
        if (since <= 0 || since > waitingBefore || Interlocked.CompareExchange(ref _waitingSince, -1, since) != since)
        {
            return false;
        }

        try
        {
            _reads.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Ended on its own a moment ago.
        }

        return true;
    }

    /// <summary>When the connection began waiting for its next request head; 0 or less when it is not waiting.</summary>
    public long WaitingSince => Volatile.Read(ref _waitingSince);

    public void Dispose()
    {
        _closeOnDeadline.Dispose();
        _socket.Dispose();
        _reads.Dispose();
        _deadline.Dispose();
        _send?.Dispose();
    }

    // Answers one request; false when the connection must close afterwards.
    private async Task<bool> ServeAsync(RequestHead head)
    {
        var keepAlive = head.KeepAlive && !_server.Stopping.IsCancellationRequested;
        var withBody = head.Method != DownloadMethod.Head;
        if (head.HasBody)
        {
            DownloadMetrics.Rejections.WithLabels("bad_request").Inc();
            await SendErrorAsync(DownloadError.BodyNotAccepted, keepAlive: false, withBody);
            return false;
        }

        if (head.Method == DownloadMethod.Other)
        {
            await SendErrorAsync(DownloadError.MethodNotAllowed, keepAlive, withBody);
            return keepAlive;
        }

        if (!DownloadTarget.TryParse(head.Target, out var target))
        {
            await SendErrorAsync(DownloadError.Unknown, keepAlive, withBody);
            return keepAlive;
        }

        var check = _server.Signer.Verify(target.Path, target.Expires, target.Signature);
        if (check != SignatureCheck.Valid)
        {
            var expired = check == SignatureCheck.Expired;
            DownloadMetrics.Rejections.WithLabels(expired ? "expired" : "bad_signature").Inc();
            Log.Rejected(_logger, target.Path, expired ? "expired" : "bad_signature");
            await SendErrorAsync(expired ? DownloadError.Expired : DownloadError.BadSignature, keepAlive, withBody);
            return keepAlive;
        }

        using var file = Digest.TryParse(target.Digest, out _) ? OpenBlob(target.Digest) : null;
        if (file is null)
        {
            await SendErrorAsync(DownloadError.Unknown, keepAlive, withBody);
            return keepAlive;
        }

        var length = RandomAccess.GetLength(file);
        if (EntityTag.HasCurrentCopy(head.IfNoneMatch, target.Digest))
        {
            await SendNotModifiedAsync(target.Digest, keepAlive);
            return keepAlive;
        }

        // A Range under an If-Range that does not name this blob gets the whole blob (RFC 9110 13.1.5).
        long offset = 0, count = length;
        var outcome = EntityTag.RangeApplies(head.IfRange, target.Digest)
            ? ByteRange.Resolve(head.Range, length, out offset, out count)
            : RangeOutcome.Full;
        if (outcome == RangeOutcome.Unsatisfiable)
        {
            await SendErrorAsync(DownloadError.RangeInvalid, keepAlive, withBody, length);
            return keepAlive;
        }

        if (outcome == RangeOutcome.Full)
        {
            (offset, count) = (0, length);
        }

        var responseHead = ArrayPool<byte>.Shared.Rent(ResponseHeadBytes);
        try
        {
            var writer = new ResponseHeadWriter(responseHead);
            writer.Status(outcome == RangeOutcome.Partial ? 206 : 200);
            writer.Header("Content-Length", count);
            writer.Header("Content-Type", "application/octet-stream");
            writer.Header("Docker-Content-Digest", target.Digest);
            writer.Header("ETag", $"\"{target.Digest}\"");
            writer.Header("Accept-Ranges", "bytes");
            if (outcome == RangeOutcome.Partial)
            {
                writer.ContentRange(offset, count, length);
            }

            writer.End(keepAlive);
            var headBytes = responseHead.AsMemory(0, writer.Length);
            if (!withBody || count == 0)
            {
                await SendAsync(headBytes);
                return keepAlive;
            }

            return await SendFileAsync(headBytes, file, offset, count) && keepAlive;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(responseHead);
        }
    }

    private SafeFileHandle? OpenBlob(string digest)
    {
        var path = _server.Storage.GetLocalPath(BlobPaths.Blob(digest));
        if (path is null)
        {
            return null;
        }

        try
        {
            // Asynchronous: SendPacketsElement refuses a stream that is not (on Linux it is only a flag; sendfile reads the file).
            return File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, FileOptions.Asynchronous);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    // The head and the body leave in sendfile-backed chunks; false when the transfer was cut short.
    private async Task<bool> SendFileAsync(ReadOnlyMemory<byte> head, SafeFileHandle file, long offset, long count)
    {
        DownloadMetrics.Started.Inc();
        _send ??= new SendPacketsOperation();
        var sent = 0L;
        try
        {
            // bufferSize 0: the stream is only a carrier of the handle for SendPacketsElement; it never buffers.
            await using var stream = new FileStream(file, FileAccess.Read, bufferSize: 0, isAsync: true);
            while (sent < count)
            {
                var chunk = (int)Math.Min(SendChunkBytes, count - sent);
                var element = new SendPacketsElement(stream, offset + sent, chunk);
                _send.SendPacketsElements = sent == 0 ? [new SendPacketsElement(head), element] : [element];
                _deadline.CancelAfter(_options.IdleTimeout);
                await _send.SendAsync(_socket);
                sent += chunk;
            }

            DownloadMetrics.Completed.Inc();
            return true;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
        {
            DownloadMetrics.Aborted.Inc();
            Log.TransferAborted(_logger, sent, count, ex.Message);
            return false;
        }
        finally
        {
            DownloadMetrics.BytesSent.Inc(sent);
            _send.SendPacketsElements = null;
        }
    }

    // 304: the client holds this blob already; the headers a 200 would carry that describe it, no body.
    private async Task SendNotModifiedAsync(string digest, bool keepAlive)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ResponseHeadBytes);
        try
        {
            var writer = new ResponseHeadWriter(buffer);
            writer.Status(304);
            writer.Header("Docker-Content-Digest", digest);
            writer.Header("ETag", $"\"{digest}\"");
            writer.End(keepAlive);
            await SendAsync(buffer.AsMemory(0, writer.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task SendErrorAsync(DownloadError error, bool keepAlive, bool withBody, long? blobLength = null)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ResponseHeadBytes);
        try
        {
            var writer = new ResponseHeadWriter(buffer);
            error.Write(ref writer, keepAlive, withBody, blobLength);
            await SendAsync(buffer.AsMemory(0, writer.Length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        _deadline.CancelAfter(_options.IdleTimeout);
        while (!bytes.IsEmpty)
        {
            var sent = await _socket.SendAsync(bytes, SocketFlags.None, _deadline.Token);
            bytes = bytes[sent..];
        }
    }
}
