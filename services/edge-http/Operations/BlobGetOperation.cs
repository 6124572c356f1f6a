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
/// GET and HEAD of a blob (end-2), with single byte ranges (case BL-19). The control path asks the blob
/// service; the bytes go out with sendfile from the file the service names, or stream over gRPC when
/// there is no such file.
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

    public override Scope? Scope => RepositoryScope(Route.Name, "pull");

    public override bool UsesBlobStage => true;

    public override async Task RunBlobStageAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        try
        {
            _stat = await edge.Clients.Blobs.StatBlobAsync(
                new StatBlobRequest { Repository = Route.Name, Digest = Route.Reference, WantLocalPath = edge.Options.DirectBlobReads },
                edge.Clients.Unary(cancellationToken));
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
        response.Headers.ETag = $"\"{Route.Reference}\"";
        response.Headers.AcceptRanges = "bytes";
        response.ContentType = MediaTypes.OctetStream;

        var isHead = HttpMethods.IsHead(Context.Request.Method);
        var outcome = isHead ? RangeOutcome.Full : ByteRange.Resolve(Context.Request.Headers.Range.ToString(), size, out _offset, out _count);
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

        var localPath = _stat!.LocalPath;
        if (localPath.Length > 0 && File.Exists(localPath))
        {
            await Context.Response.SendFileAsync(localPath, _offset, _count, cancellationToken);
            return;
        }

        using var call = edge.Clients.Blobs.ReadBlob(
            new ReadBlobRequest { Repository = Route.Name, Digest = Route.Reference, Offset = _offset, Length = _count },
            Clients.ServiceClients.Streaming(cancellationToken));
        var body = Context.Response.Body;
        await foreach (var chunk in call.ResponseStream.ReadAllAsync(cancellationToken))
        {
            await body.WriteAsync(chunk.Data.Memory, cancellationToken);
        }
    }
}
