using Registry.EdgeHttp.Caching;
using Registry.EdgeHttp.Http;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Oci.Http;

namespace Registry.EdgeHttp.Operations;

/// <summary>
/// GET and HEAD of a manifest (end-3). The stored bytes are served with the stored media type whatever
/// the Accept header says: no conversion, no platform resolution (case BL-08); HEAD and GET agree.
/// </summary>
internal sealed class ManifestGetOperation : OciOperation
{
    private ResolvedManifest _manifest;

    public ManifestGetOperation(HttpContext context, OciRoute route)
        : base(context, route)
    {
    }

    public override ScopeDemand? Scope => ScopeDemand.Repository(Route.Name, ScopeActions.Pull);

    public override bool UsesManifestStage => true;

    public override async Task RunManifestStageAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        _manifest = await edge.Manifests.ReadAsync(Route.Name, Route.Reference, HttpMethods.IsHead(Context.Request.Method), cancellationToken);
    }

    public override void Assemble(EdgeContext edge)
    {
        var manifest = _manifest;
        var response = Context.Response;
        response.Headers[OciHeaders.ContentDigest] = manifest.Digest;
        response.Headers.ETag = manifest.ETag;
        if (EntityTag.HasCurrentCopy(Context.Request.Headers.IfNoneMatch.ToString(), manifest.Digest))
        {
            response.StatusCode = StatusCodes.Status304NotModified;
            return;
        }

        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = manifest.MediaType;
        response.ContentLength = manifest.Size;
        Body = manifest.Content;
    }
}
