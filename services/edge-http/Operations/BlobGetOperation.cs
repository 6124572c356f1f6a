using System.Globalization;
using Grpc.Core;
using Registry.EdgeHttp.Http;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Hosting.Grpc;
using Registry.Oci.Errors;
using Registry.Oci.Http;
using Registry.Oci.Manifests;
using Registry.Protos;

namespace Registry.EdgeHttp.Operations;

/// <summary>
/// GET and HEAD of a blob (end-2), with single byte ranges (case BL-19), If-None-Match and If-Range (the
/// digest is the entity tag). The control path asks the blob service; a large unconditional GET without
/// Range is redirected (307) to the URL the service offers, if any; otherwise the bytes are read straight
/// from the file the service names, or stream over gRPC when there is no such file.
/// </summary>
internal sealed class BlobGetOperation : OciOperation
{
    private StatBlobReply? _stat;
    private long _offset;
    private long _count;
    private bool _sendBody;

    public BlobGetOperation(HttpContext context, OciRoute route)
        : base(context, route)
    {
    }

    public override ScopeDemand? Scope => ScopeDemand.Repository(Route.Name, ScopeActions.Pull);

    public override bool UsesBlobStage => true;

    public override async Task RunBlobStageAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        // Only whole-blob GETs are redirected: a ranged GET (a resumed download, usually) is served here, so
        // its answer never depends on the client carrying Range across the redirect; HEAD is cheap here, and
        // so is the 304 of a conditional GET.
        var redirects = edge.Options.BlobRedirects;
        var headers = Context.Request.Headers;
        var request = new StatBlobRequest
        {
            Repository = Route.Name,
            Digest = Route.Reference,
            WantLocalPath = edge.Options.DirectBlobReads,
            WantRedirect = redirects.Enabled && HttpMethods.IsGet(Context.Request.Method) && headers.Range.Count == 0 && headers.IfNoneMatch.Count == 0,
            RedirectMinSize = Math.Max(0, redirects.MinimumSize),
        };
        try
        {
            _stat = await edge.Clients.Blobs.StatBlobAsync(request, edge.Clients.Unary(cancellationToken));
        }
        catch (RpcException ex)
        {
            throw OciStatus.ToOciException(ex);
        }
    }

    public override void Assemble(EdgeContext edge)
    {
        var size = _stat!.Size;
        var response = Context.Response;
        response.Headers[OciHeaders.ContentDigest] = Route.Reference;
        if (_stat.RedirectUrl.Length > 0)
        {
            // The URL carries its own short-lived authorisation; clients follow 307 with the same method.
            response.StatusCode = StatusCodes.Status307TemporaryRedirect;
            response.Headers.Location = _stat.RedirectUrl;
            response.ContentLength = 0;
            return;
        }

        response.Headers.ETag = $"\"{Route.Reference}\"";
        response.Headers.AcceptRanges = "bytes";
        var headers = Context.Request.Headers;
        if (EntityTag.HasCurrentCopy(headers.IfNoneMatch.ToString(), Route.Reference))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.ContentType = MediaTypes.OctetStream;

        // A Range under an If-Range that does not name this blob gets the whole blob (RFC 9110 13.1.5).
        var isHead = HttpMethods.IsHead(Context.Request.Method);
        var outcome = isHead || !EntityTag.RangeApplies(headers.IfRange.ToString(), Route.Reference)
            ? RangeOutcome.Full
            : ByteRange.Resolve(headers.Range.ToString(), size, out _offset, out _count);
        switch (outcome)
        {
            case RangeOutcome.Unsatisfiable:
                response.Headers.ContentRange = string.Create(CultureInfo.InvariantCulture, $"bytes */{size}");
                throw new OciException(OciErrorCode.RangeInvalid, "requested range not satisfiable", $"blob length {size}",
                    httpStatus: StatusCodes.Status416RangeNotSatisfiable);
            case RangeOutcome.Partial:
                response.StatusCode = StatusCodes.Status206PartialContent;
                response.Headers.ContentRange = string.Create(
                    CultureInfo.InvariantCulture, $"bytes {_offset}-{_offset + _count - 1}/{size}");
                break;
            default:
                response.StatusCode = StatusCodes.Status200OK;
                _offset = 0;
                _count = size;
                break;
        }

        response.ContentLength = _count;
        _sendBody = !isHead && _count > 0;
    }

    public override async Task WriteBodyAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        if (!_sendBody)
        {
            return;
        }

        // A client that stops reading would hold its connection, its slot and its buffers for hours (Kestrel's
        // minimum rate of 240 bytes/s is averaged over the whole response): a write that makes no progress
        // for ResponseStallTimeout ends the connection, and sooner when other GETs wait for a slot.
        using var stall = new WriteStall(edge.Options.ResponseStallTimeout, cancellationToken, ClientAcknowledged());
        if (!await edge.BlobBodies.EnterAsync(stall, cancellationToken))
        {
            if (cancellationToken.IsCancellationRequested)
            {
                MarkAborted();
                return;
            }

            // The refusal describes no blob: the headers set for the body that is not coming go.
            var headers = Context.Response.Headers;
            headers.ETag = default;
            headers.AcceptRanges = default;
            headers.ContentRange = default;
            headers.Remove(OciHeaders.ContentDigest);
            throw new OciException(OciErrorCode.Unavailable, "too many blob downloads for the memory the registry may use; retry later",
                httpStatus: StatusCodes.Status503ServiceUnavailable) { RetryAfter = TimeSpan.FromSeconds(edge.Options.Pipeline.RetryAfterSeconds) };
        }

        try
        {
            await WriteBodyInSlotAsync(edge, stall);
        }
        catch (OperationCanceledException) when (stall.Fired)
        {
            (stall.CutForRoom ? WriteStall.CutBlobs : WriteStall.StalledBlobs).Inc();
            MarkAborted();
            Context.Abort();
        }
        finally
        {
            edge.BlobBodies.Exit(stall);
        }
    }

    private async Task WriteBodyInSlotAsync(EdgeContext edge, WriteStall stall)
    {
        var cancellationToken = stall.Token;
        var localPath = _stat!.LocalPath;
        if (localPath.Length > 0 && File.Exists(localPath))
        {
            await SendLocalFileAsync(localPath, stall);
            return;
        }

        using var call = edge.Clients.Blobs.ReadBlob(
            new ReadBlobRequest { Repository = Route.Name, Digest = Route.Reference, Offset = _offset, Length = _count },
            Clients.ServiceClients.Streaming(cancellationToken));
        var body = Context.Response.Body;
        try
        {
            await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
            {
                stall.Arm();
                await body.WriteAsync(chunk.Data.Memory, cancellationToken);
                stall.Disarm();
            }
        }
        catch (RpcException ex) when (!Context.Response.HasStarted)
        {
            // The service refused before the first byte (blob gone, storage breaker open): answer as OCI.
            throw OciStatus.ToOciException(ex);
        }
    }

    // Reads the file straight into the response pipe's buffers: one copy from the page cache, no
    // intermediate buffer. Kestrel has no zero-copy sendfile; this is the closest it gets.
    // With Registry:Blob:DirectDownloads on, large whole-blob GETs are redirected to a sendfile server instead.
    // 256 KiB per read and per flush: against 64 KiB reads flushed every 128 KiB, 0.84x the CPU per 32 MiB
    // GET and 1.17x the throughput for about 5 MiB more peak RSS with 16 clients (docs/performance.md,
    // "Blob GET: larger reads"). A transfer holds about two such buffers, the host's large blocks
    // (Registry:Memory:LargeBlockBytes; with it at 0 the pipe takes them from the shared array pool).
    private async Task SendLocalFileAsync(string path, WriteStall stall)
    {
        const int ReadSize = 256 * 1024;
        const int FlushEvery = 256 * 1024;
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        var writer = Context.Response.BodyWriter;
        var offset = _offset;
        var remaining = _count;
        var unflushed = 0;
        while (remaining > 0)
        {
            var memory = writer.GetMemory(ReadSize);
            var want = (int)Math.Min(memory.Length, remaining);
            var read = RandomAccess.Read(handle, memory.Span[..want], offset);
            if (read == 0)
            {
                throw new IOException($"blob file {path} is shorter than recorded");
            }

            writer.Advance(read);
            offset += read;
            remaining -= read;
            unflushed += read;
            if (unflushed < FlushEvery && remaining > 0)
            {
                continue;
            }

            unflushed = 0;
            stall.Arm();
            var flush = await writer.FlushAsync(stall.Token);
            stall.Disarm();
            if (flush.IsCanceled || flush.IsCompleted)
            {
                // The connection is gone (Kestrel completed the pipe) even if the abort signal has not fired yet.
                MarkAborted();
                return;
            }
        }
    }
}
