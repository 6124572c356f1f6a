using Grpc.Core;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Hosting.Grpc;
using Registry.Protos;

namespace Registry.EdgeHttp.Operations;

/// <summary>DELETE of a manifest by digest (with its tags) or of a tag alone (end-9).</summary>
internal sealed class ManifestDeleteOperation : OciOperation
{
    public ManifestDeleteOperation(HttpContext context, OciRoute route)
        : base(context, route)
    {
    }

    public override ScopeDemand? Scope => ScopeDemand.Repository(Route.Name, ScopeActions.Delete);

    public override bool UsesManifestStage => true;

    public override async Task RunManifestStageAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        try
        {
            await edge.Clients.Manifests.DeleteManifestAsync(
                new DeleteManifestRequest { Repository = Route.Name, Reference = Route.Reference },
                edge.Clients.Unary(cancellationToken));
            edge.Manifests.ForgetRepository(Route.Name);
        }
        catch (RpcException ex)
        {
            throw OciStatus.ToOciException(ex);
        }
    }

    public override void Assemble(EdgeContext edge)
    {
        Context.Response.StatusCode = StatusCodes.Status202Accepted;
        Context.Response.ContentLength = 0;
    }
}
