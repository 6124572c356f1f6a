using System.Buffers;
using System.Text.Json;
using Grpc.Core;
using Registry.EdgeHttp.Http;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Hosting.Grpc;
using Registry.Oci.Manifests;
using Registry.Protos;

namespace Registry.EdgeHttp.Operations;

/// <summary>
/// GET /v2/&lt;name&gt;/referrers/&lt;digest&gt; (end-12a, end-12b): an image index of the manifests whose subject is the
/// digest, in pages linked with a Link header when they would not fit one (many referrers, or large annotations).
/// </summary>
internal sealed class ReferrersOperation : OciOperation
{
    private ListReferrersReply? _reply;
    private string _artifactType = string.Empty;

    public ReferrersOperation(HttpContext context, OciRoute route)
        : base(context, route)
    {
    }

    public override ScopeDemand? Scope => ScopeDemand.Repository(Route.Name, ScopeActions.Pull);

    public override bool UsesManifestStage => true;

    public override async Task RunManifestStageAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        _artifactType = Context.Request.Query["artifactType"].ToString();
        try
        {
            _reply = await edge.Clients.Manifests.ListReferrersAsync(
                new ListReferrersRequest
                {
                    Repository = Route.Name, Subject = Route.Reference, ArtifactType = _artifactType,
                    Last = Context.Request.Query["last"].ToString(),
                },
                edge.Clients.Unary(cancellationToken));
        }
        catch (RpcException ex)
        {
            throw OciStatus.ToOciException(ex);
        }
    }

    public override void Assemble(EdgeContext edge)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteNumber("schemaVersion", 2);
            writer.WriteString("mediaType", MediaTypes.OciIndex);
            writer.WriteStartArray("manifests");
            foreach (var descriptor in _reply!.Manifests)
            {
                writer.WriteStartObject();
                writer.WriteString("mediaType", descriptor.MediaType);
                writer.WriteString("digest", descriptor.Digest);
                writer.WriteNumber("size", descriptor.Size);
                if (descriptor.ArtifactType.Length > 0)
                {
                    writer.WriteString("artifactType", descriptor.ArtifactType);
                }

                if (descriptor.AnnotationsJson.Length > 0)
                {
                    writer.WritePropertyName("annotations");
                    writer.WriteRawValue(descriptor.AnnotationsJson, skipInputValidation: true);
                }

                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        if (_artifactType.Length > 0)
        {
            Context.Response.Headers[OciHeaders.FiltersApplied] = "artifactType";
        }

        if (_reply.More && _reply.Manifests.Count > 0)
        {
            // The rest follows on further pages (a page is bounded so that it fits one gRPC message).
            var next = $"/v2/{Route.Name}/referrers/{Route.Reference}?last={Uri.EscapeDataString(_reply.Manifests[^1].Digest)}";
            if (_artifactType.Length > 0)
            {
                next += "&artifactType=" + Uri.EscapeDataString(_artifactType);
            }

            Context.Response.Headers.Link = $"<{next}>; rel=\"next\"";
        }

        Context.Response.StatusCode = StatusCodes.Status200OK;
        SetJsonBody(buffer.WrittenMemory, MediaTypes.OciIndex);
    }
}
