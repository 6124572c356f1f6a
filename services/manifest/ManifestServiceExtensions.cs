using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Registry.Hosting;
using Grpc.Net.Client;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Registry.Hosting.Grpc;
using Registry.Hosting.Observability;
using Registry.Hosting.Sqlite;
using Registry.Manifest.Grpc;
using Registry.Manifest.Metadata;
using Registry.Protos;

namespace Registry.Manifest;

/// <summary>Registers the manifest service in a host, alone or beside the others.</summary>
public static class ManifestServiceExtensions
{
    /// <summary>Adds the manifest service, its database and its client of the blob service.</summary>
    public static IServiceCollection AddManifestService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<ManifestServiceOptions>().Bind(configuration.GetSection(ManifestServiceOptions.SectionName));
        services.AddSingleton(provider => new ManifestMetadataStore(
            Path.Combine(provider.GetRequiredService<IOptions<RegistryOptions>>().Value.MetadataDir, "manifests.db"),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger<SqliteDatabase>()));
        services.AddHostedService<MetadataOpener>();
        services.AddSingleton(provider =>
        {
            var address = provider.GetRequiredService<IOptions<ServiceAddresses>>().Value.Blob;
            if (string.IsNullOrEmpty(address))
            {
                throw new InvalidOperationException("Registry:Services:Blob must name the blob service's address.");
            }

            return GrpcChannels.Create(address, provider.GetRequiredService<ILoggerFactory>());
        });
        services.AddSingleton(provider => new Blobs.BlobsClient(GrpcChannels.Instrumented(provider.GetRequiredService<GrpcChannel>())));
        services.AddHealthChecks()
            .Add(new HealthCheckRegistration(
                "manifest-metadata",
                provider => new DirectoryHealthCheck(provider.GetRequiredService<IOptions<RegistryOptions>>().Value.MetadataDir),
                HealthStatus.Unhealthy,
                [HealthTags.Ready]))
            .Add(new HealthCheckRegistration(
                "manifest-to-blob",
                provider => new GrpcServiceHealthCheck(provider.GetRequiredService<GrpcChannel>()),
                HealthStatus.Unhealthy,
                [HealthTags.Ready, HealthTags.Downstream]));
        return services;
    }

    /// <summary>Maps the manifest service's gRPC endpoints.</summary>
    public static IEndpointRouteBuilder MapManifestService(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<ManifestGrpcService>();
        return endpoints;
    }
}
