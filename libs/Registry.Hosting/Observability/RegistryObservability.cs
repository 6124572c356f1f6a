using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Prometheus;

namespace Registry.Hosting.Observability;

/// <summary>Metrics, health and start-up report shared by every registry process.</summary>
public static class RegistryObservability
{
    /// <summary>Where Prometheus scrapes.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>Liveness: the process runs.</summary>
    public const string LivePath = "/healthz/live";

    /// <summary>Readiness: storage and the services this process calls answer.</summary>
    public const string ReadyPath = "/healthz/ready";

    /// <summary>Configures metrics for the process and registers the liveness check and the start-up report.</summary>
    public static WebApplicationBuilder AddRegistryObservability(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        RegistryMetrics.EnsureConfigured();
        builder.Services.AddHealthChecks().AddCheck("self", static () => HealthCheckResult.Healthy(), [HealthTags.Live]);
        builder.Services.AddHostedService<StartupReport>();
        return builder;
    }

    /// <summary>
    /// Adds the standard gRPC health service to a host of gRPC services. It reports the host's own
    /// checks, not those of the services it calls (<see cref="HealthTags.Downstream"/>).
    /// </summary>
    public static IServiceCollection AddRegistryGrpcHealth(this IServiceCollection services)
    {
        services.AddGrpcHealthChecks(options =>
        {
            options.Services.Clear();
            options.Services.Map(string.Empty, static check => !check.Tags.Contains(HealthTags.Downstream));
        });
        return services;
    }

    /// <summary>Maps /metrics, /healthz/live and /healthz/ready.</summary>
    public static IEndpointRouteBuilder MapRegistryObservability(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapMetrics(MetricsPath);
        endpoints.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = static check => check.Tags.Contains(HealthTags.Live) });
        endpoints.MapHealthChecks(ReadyPath, new HealthCheckOptions { Predicate = static check => check.Tags.Contains(HealthTags.Ready) });
        return endpoints;
    }
}
