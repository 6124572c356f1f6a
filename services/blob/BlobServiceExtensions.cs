using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using System.Security.Cryptography;
using Registry.Blob.Downloads;
using Registry.Blob.Grpc;
using Registry.Blob.Metadata;
using Registry.Blob.Storage;
using Registry.Blob.Uploads;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Registry.Hosting;
using Registry.Hosting.Observability;
using Registry.Hosting.Observability.Leaks;
using Registry.Hosting.Sqlite;
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
        services.AddOptions<StorageResilienceOptions>()
            .Bind(configuration.GetSection(StorageResilienceOptions.SectionName))
            .Validate(options => { options.Validate(); return true; }).ValidateOnStart();
        services.AddSingleton<IStorageDriver>(provider =>
        {
            var driver = configuration["Registry:Storage:Driver"] ?? "filesystem";
            if (!string.Equals(driver, "filesystem", StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidOperationException($"Registry:Storage:Driver '{driver}' is not available; use 'filesystem'.");
            }

            // Each attempt is timed and counted; the resilience layer sees what the attempts gave.
            return new ResilientStorageDriver(
                new InstrumentedStorageDriver(
                    new FilesystemDriver(new FilesystemDriverOptions { RootDirectory = StorageRoot(provider, configuration) })),
                provider.GetRequiredService<IOptions<StorageResilienceOptions>>().Value,
                provider.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton(provider => new BlobMetadataStore(
            Path.Combine(provider.GetRequiredService<IOptions<RegistryOptions>>().Value.MetadataDir, "blobs.db"),
            provider.GetRequiredService<TimeProvider>(),
            provider.GetRequiredService<ILoggerFactory>().CreateLogger<SqliteDatabase>()));
        services.AddSingleton<UploadManager>();
        services.AddSingleton<UploadPurger>();
        services.AddHostedService(provider => provider.GetRequiredService<UploadPurger>());
        services.AddSingleton<UploadMetrics>();
        services.AddHostedService(provider => provider.GetRequiredService<UploadMetrics>());
        services.AddSingleton<ILeakSignal>(provider => provider.GetRequiredService<UploadMetrics>());
        AddDirectDownloads(services, configuration);
        services.AddHealthChecks()
            .Add(new HealthCheckRegistration(
                "blob-storage",
                provider => new DirectoryHealthCheck(StorageRoot(provider, configuration)),
                HealthStatus.Unhealthy,
                [HealthTags.Ready]))
            .Add(new HealthCheckRegistration(
                "blob-storage-breaker",
                provider => new StorageBreakerHealthCheck(provider.GetRequiredService<IStorageDriver>()),
                HealthStatus.Unhealthy,
                [HealthTags.Ready]))
            .Add(new HealthCheckRegistration(
                "blob-metadata",
                provider => new DirectoryHealthCheck(provider.GetRequiredService<IOptions<RegistryOptions>>().Value.MetadataDir),
                HealthStatus.Unhealthy,
                [HealthTags.Ready]));
        return services;
    }

    // The direct download server and the redirects to it exist only when turned on; StatBlob then offers URLs.
    private static void AddDirectDownloads(IServiceCollection services, IConfiguration configuration)
    {
        var section = configuration.GetSection(DirectDownloadOptions.SectionName);
        services.AddOptions<DirectDownloadOptions>().Bind(section)
            .Validate(options => { options.Validate(); return true; }).ValidateOnStart();
        if (!section.GetValue<bool>(nameof(DirectDownloadOptions.Enabled)))
        {
            return;
        }

        services.AddSingleton(provider =>
        {
            var configured = provider.GetRequiredService<IOptions<DirectDownloadOptions>>().Value.SigningKey;
            var key = string.IsNullOrEmpty(configured)
                ? RandomNumberGenerator.GetBytes(DownloadSigner.MinimumKeyBytes)
                : DownloadSigner.DecodeKey(configured);
            return new DownloadSigner(key, provider.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton<DirectDownloadServer>();
        services.AddHostedService(provider => provider.GetRequiredService<DirectDownloadServer>());
        services.AddSingleton<IBlobRedirector, DirectDownloadRedirector>();
    }

    private static string StorageRoot(IServiceProvider provider, IConfiguration configuration)
    {
        var root = configuration["Registry:Storage:Filesystem:RootDirectory"];
        return string.IsNullOrEmpty(root)
            ? provider.GetRequiredService<IOptions<RegistryOptions>>().Value.DataDirFullPath
            : Path.GetFullPath(root);
    }

    /// <summary>Maps the blob service's gRPC endpoints.</summary>
    public static IEndpointRouteBuilder MapBlobService(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGrpcService<BlobGrpcService>();
        return endpoints;
    }
}
