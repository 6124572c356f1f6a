using System.Buffers;
using System.IO.Pipelines;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Registry.EdgeHttp.Clients;
using Registry.EdgeHttp.Http;
using Registry.EdgeHttp.Observability;
using Registry.EdgeHttp.Pipeline;
using Registry.Hosting.Grpc;
using Registry.Oci.Errors;
using Registry.Oci.Http;
using Registry.Protos;

namespace Registry.EdgeHttp.Operations;

/// <summary>
/// Streams a request body into an upload session over gRPC (AppendUpload). Memory per transfer is one
/// pooled buffer, whatever the blob size; bodies of unknown length (chunked transfer encoding, as docker
/// sends them) are fine (case BL-04).
/// </summary>
internal static class UploadBody
{
    // Below the large-object-heap threshold, so the message the service deserialises is a cheap gen0 allocation.
    private const int ChunkSize = 64 * 1024;

    /// <summary>True when the request carries a body (a length above zero, or chunked encoding).</summary>
    public static bool HasBody(HttpContext context) =>
        context.Request.ContentLength is > 0
        || (context.Request.ContentLength is null && context.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == true);

    /// <summary>
    /// Appends the body to the session and returns the session's new size. Content-Range, when sent,
    /// must continue the session (else 416) and agree with Content-Length (else 400 SIZE_INVALID).
    /// </summary>
    public static async Task<long> AppendAsync(
        EdgeContext edge,
        OciOperation operation,
        string repository,
        string uploadId,
        CancellationToken cancellationToken) =>
        await AppendAsync(edge, operation, repository, uploadId, completeWith: null, cancellationToken);

    /// <summary>
    /// Appends the body as the upload's last chunk and completes the upload with <paramref name="digest"/>.
    /// Both happen in one call to the blob service, and a wrong digest leaves the session as it was
    /// before the chunk.
    /// </summary>
    public static Task AppendAndCompleteAsync(
        EdgeContext edge,
        OciOperation operation,
        string repository,
        string uploadId,
        string digest,
        CancellationToken cancellationToken) =>
        AppendAsync(edge, operation, repository, uploadId, digest, cancellationToken);

    private static async Task<long> AppendAsync(
        EdgeContext edge,
        OciOperation operation,
        string repository,
        string uploadId,
        string? completeWith,
        CancellationToken cancellationToken)
    {
        var context = operation.Context;
        var request = context.Request;
        long offset = -1;
        var length = request.ContentLength ?? -1;
        var contentRange = request.Headers.ContentRange.ToString();
        if (contentRange.Length > 0)
        {
            if (!ContentRange.TryParse(contentRange, out var start, out var end))
            {
                throw new OciException(OciErrorCode.BlobUploadInvalid, "invalid Content-Range", contentRange);
            }

            var rangeLength = end - start + 1;
            if (length >= 0 && length != rangeLength)
            {
                throw new OciException(OciErrorCode.SizeInvalid, "Content-Range and Content-Length disagree",
                    $"Content-Range {contentRange}, Content-Length {length}");
            }

            offset = start;
            length = rangeLength;
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            // Blobs may be many gigabytes; they stream through a fixed buffer, so no body limit applies.
            limit.MaxRequestBodySize = null;
        }

        var kind = HttpMethods.IsPatch(request.Method) ? EdgeOperation.UploadPatch
            : HttpMethods.IsPost(request.Method) ? EdgeOperation.UploadStart : EdgeOperation.UploadPut;
        if (edge.Options.DirectUploadWrites
            && await StagedUploadBody.TryAppendAsync(edge, operation, repository, uploadId, offset, length, kind, completeWith, cancellationToken) is { } size)
        {
            return size;
        }

        using var call = edge.Clients.Blobs.AppendUpload(ServiceClients.Streaming(cancellationToken));
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            await SendAsync(call, new UploadChunk
            {
                Header = new UploadHeader
                {
                    Repository = repository, UploadId = uploadId, Offset = offset, Length = length,
                    CompleteDigest = completeWith ?? string.Empty,
                },
            }, cancellationToken);

            // Read through the body's PipeReader, not its Stream: a read stopped with CancelPendingRead
            // (the service answered early, or the upload stage cut a slow body off) is then advanced past,
            // which leaves Kestrel able to drain the rest of the body.
            var reader = request.BodyReader;
            var ended = false;
            while (!ended)
            {
                var filled = 0;
                while (filled < buffer.Length)
                {
                    var result = await ReadRacingAnswerAsync(operation, reader, call, cancellationToken);
                    var available = result.Buffer;
                    var taken = available.Slice(0, Math.Min(available.Length, buffer.Length - filled));
                    taken.CopyTo(buffer.AsSpan(filled));
                    filled += (int)taken.Length;
                    reader.AdvanceTo(taken.End);
                    if (result.IsCompleted && taken.Length == available.Length)
                    {
                        operation.StopWatchingBody();
                        ended = true;
                        break;
                    }
                }

                if (filled == 0)
                {
                    break;
                }

                EdgeMetrics.AddBytesIn(kind, filled);
                operation.AddBodyBytes(filled);
                edge.MarkProgress();

                // Serialised before WriteAsync completes, so the buffer is free again afterwards.
                await SendAsync(call, new UploadChunk { Data = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, filled)) }, cancellationToken);
            }

            try
            {
                await call.RequestStream.CompleteAsync();
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw await ServiceFailureAsync(call, ex);
            }

            return (await call.ResponseAsync).Size;
        }
        catch (RpcException ex)
        {
            throw OciStatus.ToOciException(ex);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // A client slow to send its body must not hold the request once the service has answered (a session
    // it does not know, a chunk that does not continue the upload): the pending read is then stopped
    // with CancelPendingRead and waited for, and the service's answer stands. A read that ends as
    // cancelled otherwise was stopped by the upload stage (a body too slow while others wait).
    private static async ValueTask<ReadResult> ReadRacingAnswerAsync(
        OciOperation operation,
        PipeReader reader,
        AsyncClientStreamingCall<UploadChunk, UploadStatus> call,
        CancellationToken cancellationToken)
    {
        var read = ReadGuardedAsync(operation, static (r, ct) => r.ReadAsync(ct), reader, cancellationToken);
        ReadResult result;
        var answered = false;
        if (read.IsCompleted)
        {
            result = await read;
        }
        else
        {
            var reading = read.AsTask();
            if (await Task.WhenAny(reading, call.ResponseAsync) != reading)
            {
                answered = true;
                reader.CancelPendingRead();
            }

            try
            {
                result = await reading;
            }
            catch (Exception ex) when (answered && ex is OperationCanceledException or IOException or Microsoft.AspNetCore.Http.BadHttpRequestException or OciException)
            {
                // The read failed on its own while the service had answered: the service's answer stands.
                throw await ServiceAnsweredFirstAsync(call);
            }
        }

        if (!result.IsCanceled && !answered)
        {
            return result;
        }

        // Nothing of this read is used (also when it brought bytes just as the service answered).
        reader.AdvanceTo(result.Buffer.Start);
        if (answered)
        {
            throw await ServiceAnsweredFirstAsync(call);
        }

        throw new OperationCanceledException("the request body was cut off");
    }

    private static Task<Exception> ServiceAnsweredFirstAsync(AsyncClientStreamingCall<UploadChunk, UploadStatus> call) =>
        ServiceFailureAsync(call, new IOException("the service answered before the client had sent its body"));

    /// <summary>
    /// Reads from the request body. A body that ends before its declared length, or a reset connection,
    /// means the client went away: the operation notes the moment (so the endpoint counts how fast the work
    /// behind it stopped) and the failure ends the upload like a cancellation. A malformed body from a
    /// client still there is a 400.
    /// </summary>
    public static async ValueTask<T> ReadGuardedAsync<TSource, T>(
        OciOperation operation,
        Func<TSource, CancellationToken, ValueTask<T>> read,
        TSource source,
        CancellationToken cancellationToken)
    {
        try
        {
            return await read(source, cancellationToken);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new OciException(OciErrorCode.SizeInvalid, "request body too large", ex.Message, httpStatus: StatusCodes.Status413PayloadTooLarge);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException ex)
        {
            // Kestrel reports a body cut short ("Unexpected end of request content") with this type too.
            // TODO: Kestrel exposes no reason code for it; the message is the only signal.
            if (ex.Message.StartsWith("Unexpected end", StringComparison.Ordinal))
            {
                operation.MarkAborted();
                throw;
            }

            // A body too slow to arrive (408) or malformed (400): the client is still there and gets the status Kestrel chose.
            throw new OciException(OciErrorCode.BlobUploadInvalid, "request body rejected", ex.Message, httpStatus: ex.StatusCode);
        }
        catch (IOException ex) when (MalformedBody.Is(ex))
        {
            // The client is still there, waiting for an answer (a chunk size no number can hold).
            throw new OciException(OciErrorCode.BlobUploadInvalid, "request body rejected", ex.Message, httpStatus: StatusCodes.Status400BadRequest);
        }
        catch (IOException)
        {
            operation.MarkAborted();
            throw;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !operation.BodyCutOff)
        {
            // Not stopped by the caller: Kestrel ended the read because the connection was aborted (by the
            // client, or by the server when the shutdown grace period ran out), sometimes a moment before
            // it raises the request's abort signal.
            operation.MarkAborted();
            throw;
        }
    }

    private static async Task SendAsync(AsyncClientStreamingCall<UploadChunk, UploadStatus> call, UploadChunk chunk, CancellationToken cancellationToken)
    {
        try
        {
            if (call.ResponseAsync.IsCompleted)
            {
                // The service has answered already (an unknown session, a chunk that does not continue the
                // upload): it reads no more. More DATA on its finished stream would, once the server has
                // forgotten the stream (a few seconds later, e.g. while a slow client trickles its body in),
                // be a connection error that takes every call on the shared connection down with it.
                throw new IOException("the service ended the upload call before taking all of its bytes");
            }

            var write = call.RequestStream.WriteAsync(chunk, cancellationToken);
            if (!write.IsCompleted && await Task.WhenAny(write, call.ResponseAsync) != write)
            {
                // The service answered (an unknown session, a chunk that does not continue the upload) and
                // will read no more: a write waiting for HTTP/2 window it will never grant must not wait on.
                throw new IOException("the service ended the upload call before taking all of its bytes");
            }

            await write;
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // The service may have ended the call early (a chunk that does not continue the upload, an
            // unknown session): its answer explains the failure better than the write that noticed it.
            throw await ServiceFailureAsync(call, ex);
        }
    }

    // Waits (briefly, bounded) for the service's own answer to a call whose write failed.
    private static async Task<Exception> ServiceFailureAsync(AsyncClientStreamingCall<UploadChunk, UploadStatus> call, Exception writeFailure)
    {
        try
        {
            await call.ResponseAsync.WaitAsync(TimeSpan.FromSeconds(5));
            return writeFailure;
        }
        catch (RpcException ex)
        {
            return OciStatus.ToOciException(ex);
        }
        catch (TimeoutException)
        {
            return writeFailure;
        }
    }
}
