using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;

namespace Registry.EdgeHttp.Operations;

/// <summary>GET /v2/ (end-1): tells the client this is an OCI registry and whether it needs credentials.</summary>
internal sealed class BaseOperation : OciOperation
{
    private static readonly byte[] EmptyObject = "{}"u8.ToArray();

    public BaseOperation(HttpContext context, OciRoute route)
        : base(context, route)
    {
    }

    public override ScopeDemand? Scope => null;

    public override void Assemble(EdgeContext edge)
    {
        Context.Response.StatusCode = StatusCodes.Status200OK;
        SetJsonBody(EmptyObject);
    }
}
