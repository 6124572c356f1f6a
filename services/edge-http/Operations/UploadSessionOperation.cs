using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Protos;

namespace Registry.EdgeHttp.Operations;

/// <summary>
/// The requests on an open session, /v2/&lt;name&gt;/blobs/uploads/&lt;id&gt;: GET status (end-13, 204),
/// PATCH a chunk (end-5, 202), PUT to finish with an optional last chunk (end-6, 201), DELETE to cancel (204).
/// </summary>
internal sealed class UploadSessionOperation : UploadOperation
{
    private long _size;
    private string _digest = string.Empty;

    public UploadSessionOperation(HttpContext context, OciRoute route)
        : base(context, route)
    {
    }

    private string UploadId => Route.Reference;

    public override async Task RunBlobStageAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        var method = Context.Request.Method;
        var blobs = edge.Clients.Blobs;
        var session = new UploadRef { Repository = Route.Name, UploadId = UploadId };
        if (HttpMethods.IsDelete(method))
        {
            await CallAsync(blobs.CancelUploadAsync(session, edge.Clients.Unary(cancellationToken)));
            return;
        }

        SetSessionHeaders(edge, UploadId);
        if (HttpMethods.IsGet(method))
        {
            _size = (await CallAsync(blobs.GetUploadAsync(session, edge.Clients.Unary(cancellationToken)))).Size;
        }
        else if (HttpMethods.IsPatch(method))
        {
            _size = await UploadBody.AppendAsync(edge, this, Route.Name, UploadId, cancellationToken);
        }
        else
        {
            // PUT: the digest is checked before any byte of a last chunk is taken.
            var digest = RequiredDigest();
            if (UploadBody.HasBody(Context))
            {
                await UploadBody.AppendAsync(edge, this, Route.Name, UploadId, cancellationToken);
            }

            var completed = await CallAsync(blobs.CompleteUploadAsync(
                new CompleteUploadRequest { Repository = Route.Name, UploadId = UploadId, Digest = digest },
                edge.Clients.Unary(cancellationToken)));
            _digest = completed.Digest;
        }
    }

    public override void Assemble(EdgeContext edge)
    {
        var method = Context.Request.Method;
        if (HttpMethods.IsDelete(method))
        {
            Context.Response.StatusCode = StatusCodes.Status204NoContent;
        }
        else if (HttpMethods.IsGet(method))
        {
            SessionAnswer(StatusCodes.Status204NoContent, _size);
        }
        else if (HttpMethods.IsPatch(method))
        {
            SessionAnswer(StatusCodes.Status202Accepted, _size);
        }
        else
        {
            Context.Response.Headers.Remove(Http.OciHeaders.UploadUuid);
            CreatedAnswer(edge, _digest);
        }
    }
}
