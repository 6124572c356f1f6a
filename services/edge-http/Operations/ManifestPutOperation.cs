using System.Buffers;
using Google.Protobuf;
using Grpc.Core;
using Registry.EdgeHttp.Http;
using Registry.EdgeHttp.Observability;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Hosting.Grpc;
using Registry.Oci.Errors;
using Registry.Protos;

namespace Registry.EdgeHttp.Operations;

/// <summary>PUT of a manifest (end-7), by tag or by digest, with ?tag= for extra tags.</summary>
internal sealed class ManifestPutOperation : OciOperation
{
    private PutManifestReply? _reply;

    public ManifestPutOperation(HttpContext context, OciRoute route)
        : base(context, route)
    {
    }

    public override ScopeDemand? Scope => ScopeDemand.Repository(Route.Name, ScopeActions.PullPush);

    public override bool UsesManifestStage => true;

    public override async Task RunManifestStageAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        var content = await ReadBodyAsync(edge.Options.EffectiveMaxManifestBytes(Registry.Hosting.Memory.HeapPressure.LimitBytes), cancellationToken);
        var request = new PutManifestRequest
        {
            Repository = Route.Name,
            Reference = Route.Reference,
            ContentType = Context.Request.ContentType ?? string.Empty,
            Content = UnsafeByteOperations.UnsafeWrap(content),
        };
        foreach (var tag in Context.Request.Query["tag"])
        {
            if (!string.IsNullOrEmpty(tag))
            {
                request.Tags.Add(tag);
            }
        }

        try
        {
            _reply = await edge.Clients.Manifests.PutManifestAsync(request, edge.Clients.Unary(cancellationToken));
            edge.Manifests.ForgetRepository(Route.Name);
        }
        catch (RpcException ex)
        {
            throw OciStatus.ToOciException(ex);
        }
    }

    public override void Assemble(EdgeContext edge)
    {
        var reply = _reply!;
        var response = Context.Response;
        response.StatusCode = StatusCodes.Status201Created;
        response.Headers.Location = edge.Locations.For(Context, $"/v2/{Route.Name}/manifests/{reply.Digest}");
        response.Headers[OciHeaders.ContentDigest] = reply.Digest;
        response.ContentLength = 0;
        if (reply.Subject.Length > 0)
        {
            response.Headers[OciHeaders.Subject] = reply.Subject;
        }

        if (Context.Request.Query.ContainsKey("tag"))
        {
            response.Headers[OciHeaders.Tag] = new Microsoft.Extensions.Primitives.StringValues([.. reply.Tags]);
        }
    }

    // Manifests are small and bounded: read whole, refusing with 413 as soon as the limit is passed.
    private async Task<byte[]> ReadBodyAsync(int limit, CancellationToken cancellationToken)
    {
        var declared = Context.Request.ContentLength;
        if (declared > limit)
        {
            throw TooLarge(limit);
        }

        var reader = Context.Request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            if (buffer.Length > limit)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                throw TooLarge(limit);
            }

            if (result.IsCompleted)
            {
                EdgeMetrics.AddBytesIn(EdgeOperation.ManifestPut, buffer.Length);
                var content = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return content;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private static OciException TooLarge(int limit) =>
        new(OciErrorCode.SizeInvalid, "manifest too large", $"the limit is {limit} bytes", httpStatus: StatusCodes.Status413PayloadTooLarge);
}
