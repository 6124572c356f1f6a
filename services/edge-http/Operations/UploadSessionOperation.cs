using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Oci.Errors;
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

    /// <summary>Upload ids are what the blob service hands out: short runs of letters, digits, '-' and '_'.</summary>
    internal static bool IsPlausibleUploadId(string id)
    {
        if (id.Length is 0 or > 128)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_'))
            {
                return false;
            }
        }

        return true;
    }

    public override async Task RunBlobStageAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        var method = Context.Request.Method;
        if (!IsPlausibleUploadId(UploadId))
        {
            // No session was ever named so; and the id must not reach a response header as it is.
            throw new OciException(OciErrorCode.BlobUploadUnknown, "blob upload unknown to registry");
        }

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
                await UploadBody.AppendAndCompleteAsync(edge, this, Route.Name, UploadId, digest, cancellationToken);
                _digest = digest;
                return;
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
