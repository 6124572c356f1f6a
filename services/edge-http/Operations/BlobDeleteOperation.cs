using Grpc.Core;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Hosting.Grpc;
using Registry.Protos;

namespace Registry.EdgeHttp.Operations;

/// <summary>DELETE of a blob (end-10): the repository loses access; the bytes wait for garbage collection.</summary>
internal sealed class BlobDeleteOperation : OciOperation
{
    public BlobDeleteOperation(HttpContext context, OciRoute route)
        : base(context, route)
    {
    }

    public override ScopeDemand? Scope => ScopeDemand.Repository(Route.Name, ScopeActions.Delete);

    public override bool UsesBlobStage => true;

    public override async Task RunBlobStageAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        try
        {
            await edge.Clients.Blobs.DeleteBlobAsync(
                new DeleteBlobRequest { Repository = Route.Name, Digest = Route.Reference },
                edge.Clients.Unary(cancellationToken));
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
