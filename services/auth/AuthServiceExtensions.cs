using Registry.Auth.Authorization;
using Registry.Auth.Grpc;

namespace Registry.Auth;

/// <summary>Registers the auth service in a host, alone or beside the others.</summary>
public static class AuthServiceExtensions
{
    /// <summary>Adds the auth service with its authorizer.</summary>
    public static IServiceCollection AddAuthService(this IServiceCollection services)
    {
        services.AddSingleton<IAuthorizer, AllowAllAuthorizer>();
        return services;
    }

    /// <summary>Maps the auth service's gRPC endpoints.</summary>
    public static IEndpointRouteBuilder MapAuthService(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<AuthGrpcService>();
        return endpoints;
    }
}
