using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Grpc.Core;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Hosting.Grpc;
using Registry.Oci.Errors;
using Registry.Protos;

namespace Registry.EdgeHttp.Operations;

/// <summary>
/// The paged listings: tags (end-8a, end-8b) and the catalog. Pages follow ?n= and ?last= and end with a
/// Link header while more follow (case BL-12); an n above the server's page size is clamped, not refused.
/// </summary>
internal sealed class ListOperation : OciOperation
{
    private ListReply? _reply;
    private int _limit;

    public ListOperation(HttpContext context, OciRoute route)
        : base(context, route)
    {
    }

    private bool IsCatalog => Route.Kind == OciRouteKind.Catalog;

    public override ScopeDemand? Scope => IsCatalog ? ScopeDemand.Catalog : ScopeDemand.Repository(Route.Name, ScopeActions.Pull);

    public override bool UsesManifestStage => true;

    public override async Task RunManifestStageAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        _limit = ParseLimit(Context.Request.Query["n"].ToString());
        var last = Context.Request.Query["last"].ToString();
        var manifests = edge.Clients.Manifests;
        try
        {
            _reply = IsCatalog
                ? await manifests.ListRepositoriesAsync(new ListRepositoriesRequest { Limit = _limit, Last = last }, edge.Clients.Unary(cancellationToken))
                : await manifests.ListTagsAsync(new ListTagsRequest { Repository = Route.Name, Limit = _limit, Last = last }, edge.Clients.Unary(cancellationToken));
        }
        catch (RpcException ex)
        {
            throw OciStatus.ToOciException(ex);
        }
    }

    public override void Assemble(EdgeContext edge)
    {
        var reply = _reply!;
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            if (!IsCatalog)
            {
                writer.WriteString("name", Route.Name);
            }

            writer.WriteStartArray(IsCatalog ? "repositories" : "tags");
            foreach (var name in reply.Names)
            {
                writer.WriteStringValue(name);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        if (reply.More && reply.Names.Count > 0)
        {
            var path = IsCatalog ? "/v2/_catalog" : $"/v2/{Route.Name}/tags/list";
            var pageSize = reply.Names.Count;
            var next = string.Create(CultureInfo.InvariantCulture,
                $"{path}?last={Uri.EscapeDataString(reply.Names[^1])}&n={pageSize}");
            Context.Response.Headers.Link = $"<{next}>; rel=\"next\"";
        }

        Context.Response.StatusCode = StatusCodes.Status200OK;
        SetJsonBody(buffer.WrittenMemory);
    }

    // Absent: the server's page size (-1 asks for it). Negative or not a number: 400, as distribution does.
    private static int ParseLimit(string text)
    {
        if (text.Length == 0)
        {
            return -1;
        }

        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var limit))
        {
            return long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _)
                ? int.MaxValue
                : throw new OciException(OciErrorCode.PaginationNumberInvalid, detail: text);
        }

        return limit;
    }
}
