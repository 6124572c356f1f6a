using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Registry.Blob.Grpc;
using Registry.Blob.Metadata;
using Registry.Blob.Uploads;
using Registry.Hosting;
using Registry.Storage;
using Registry.Storage.Filesystem;

namespace Registry.Blob;

/// <summary>Registers the blob service in a host, alone or beside the others.</summary>
public static class BlobServiceExtensions
{
    /// <summary>Adds the blob service, its storage driver and its database.</summary>
    public static IServiceCollection AddBlobService(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.TryAddSingleton(TimeProvider.System);
        services.AddOptions<BlobServiceOptions>().Bind(configuration.GetSection(BlobServiceOptions.SectionName))
            .Validate(options => { options.Validate(); return true; }).ValidateOnStart();
        services.AddSingleton<IStorageDriver>(provider =>
        {
            var registry = provider.GetRequiredService<IOptions<RegistryOptions>>().Value;
            var driver = configuration["Registry:Storage:Driver"] ?? "filesystem";
            if (!string.Equals(driver, "filesystem", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"Registry:Storage:Driver '{driver}' is not available; use 'filesystem'.");
            }

            var root = configuration["Registry:Storage:Filesystem:RootDirectory"];
            return new FilesystemDriver(new FilesystemDriverOptions
            {
                RootDirectory = string.IsNullOrEmpty(root) ? registry.DataDirFullPath : Path.GetFullPath(root),
            });
        });
        services.AddSingleton(provider => new BlobMetadataStore(
            Path.Combine(provider.GetRequiredService<IOptions<RegistryOptions>>().Value.MetadataDir, "blobs.db"),
            provider.GetRequiredService<TimeProvider>()));
        services.AddSingleton<UploadManager>();
        services.AddSingleton<UploadPurger>();
        services.AddHostedService(provider => provider.GetRequiredService<UploadPurger>());
        return services;
    }

    /// <summary>Maps the blob service's gRPC endpoints.</summary>
    public static IEndpointRouteBuilder MapBlobService(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<BlobGrpcService>();
        return endpoints;
    }
}
