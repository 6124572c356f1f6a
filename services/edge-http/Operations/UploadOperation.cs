using Grpc.Core;
using Registry.EdgeHttp.Http;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Hosting.Grpc;
using Registry.Oci.Digests;
using Registry.Oci.Errors;

namespace Registry.EdgeHttp.Operations;

/// <summary>Shared parts of the upload endpoints: scope, headers of a session, digest parameter.</summary>
internal abstract class UploadOperation : OciOperation
{
    protected UploadOperation(HttpContext context, OciRoute route)
        : base(context, route)
    {
    }

    public override ScopeDemand? Scope => ScopeDemand.Repository(Route.Name, ScopeActions.PullPush);

    public override bool UsesBlobStage => true;

    /// <summary>Runs a service call, turning its gRPC failure into the OCI error it carries.</summary>
    internal static async Task<T> CallAsync<T>(AsyncUnaryCall<T> call)
    {
        try
        {
            return await call;
        }
        catch (RpcException ex)
        {
            throw OciStatus.ToOciException(ex);
        }
        finally
        {
            call.Dispose();
        }
    }

    /// <summary>Sets Location and Docker-Upload-UUID of a session; error answers keep them too.</summary>
    protected void SetSessionHeaders(EdgeContext edge, string uploadId)
    {
        Context.Response.Headers.Location = edge.Locations.For(Context, $"/v2/{Route.Name}/blobs/uploads/{uploadId}");
        Context.Response.Headers[OciHeaders.UploadUuid] = uploadId;
    }

    /// <summary>Answers 202 (or 204) for a session holding <paramref name="size"/> bytes.</summary>
    protected void SessionAnswer(int status, long size)
    {
        Context.Response.StatusCode = status;
        Context.Response.Headers.Range = OciErrorWriter.UploadRange(size);
        Context.Response.ContentLength = 0;
    }

    /// <summary>Answers 201 for a committed blob.</summary>
    protected void CreatedAnswer(EdgeContext edge, string digest)
    {
        Context.Response.StatusCode = StatusCodes.Status201Created;
        Context.Response.Headers.Location = edge.Locations.For(Context, $"/v2/{Route.Name}/blobs/{digest}");
        Context.Response.Headers[OciHeaders.ContentDigest] = digest;
        Context.Response.ContentLength = 0;
    }

    /// <summary>Reads the digest query parameter; DIGEST_INVALID when absent, malformed or of an unsupported algorithm.</summary>
    protected string RequiredDigest()
    {
        var text = Context.Request.Query["digest"].ToString();
        if (!Digest.TryParse(text, out var digest))
        {
            throw new OciException(OciErrorCode.DigestInvalid,
                text.Length == 0 ? "digest parameter missing" : "invalid or unsupported digest", text);
        }

        return digest.Value;
    }
}
