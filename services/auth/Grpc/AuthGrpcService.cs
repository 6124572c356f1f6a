using Grpc.Core;
using Registry.Auth.Authorization;
using Registry.Protos;

namespace Registry.Auth.Grpc;

/// <summary>The gRPC face of the auth service (contract in protos/auth.proto).</summary>
internal sealed class AuthGrpcService : Protos.Auth.AuthBase
{
    private readonly IAuthorizer _authorizer;

    public AuthGrpcService(IAuthorizer authorizer)
    {
        _authorizer = authorizer;
    }

    /// <inheritdoc />
    public override Task<AuthorizeResponse> Authorize(AuthorizeRequest request, ServerCallContext context) =>
        _authorizer.AuthorizeAsync(request, context.CancellationToken).AsTask();
}
