using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Registry.Hosting.Observability;

/// <summary>
/// OpenTelemetry traces: one trace per client request, from the edge's HTTP span through its gRPC
/// calls (W3C trace context in the gRPC headers) to the services' spans. Off unless an OTLP endpoint
/// is configured with the usual variables (OTEL_EXPORTER_OTLP_ENDPOINT or
/// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER and the other OTEL_*
/// variables are honoured by the SDK); OTEL_TRACES_EXPORTER=none turns it off again.
/// </summary>
public static class RegistryTracing
{
    /// <summary>The activity source of the registry's own spans (pipeline stages).</summary>
    public const string SourceName = "Registry";

    /// <summary>The registry's own spans.</summary>
    public static readonly ActivitySource Source = new(SourceName);

    /// <summary>
    /// Extra configuration applied to every tracer provider the registry builds, and a reason to build
    /// one even without OTLP (tests add an in-memory exporter here). Set it before the host is built.
    /// </summary>
    public static Action<TracerProviderBuilder>? Configure { get; set; }

    /// <summary>Adds tracing to a host when it is configured (see the type's remarks).</summary>
    public static WebApplicationBuilder AddRegistryTracing(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configuration = builder.Configuration;
        var otlp = !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
            || !string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);
        var extra = Configure;
        if ((!otlp && extra is null)
            || string.Equals(configuration["OTEL_TRACES_EXPORTER"], "none", StringComparison.OrdinalIgnoreCase))
        {
            return builder;
        }

        builder.Services.AddOpenTelemetry()
            // OTEL_SERVICE_NAME (read by the SDK's environment detector) wins over the process's own name.
            .ConfigureResource(resource =>
            {
                if (string.IsNullOrEmpty(configuration["OTEL_SERVICE_NAME"]))
                {
                    resource.AddService(builder.Environment.ApplicationName);
                }
            })
            .WithTracing(tracing =>
            {
                tracing
                    .AddSource(SourceName)
                    .AddAspNetCoreInstrumentation(options => options.Filter = static context => !IsScrape(context.Request.Path))
                    .AddGrpcClientInstrumentation();
                if (otlp)
                {
                    tracing.AddOtlpExporter();
                }

                extra?.Invoke(tracing);
            });
        return builder;
    }

    // Prometheus scrapes and health probes would otherwise be most of the traces.
    private static bool IsScrape(PathString path) =>
        path.StartsWithSegments(RegistryObservability.MetricsPath, StringComparison.Ordinal)
        || path.StartsWithSegments("/healthz", StringComparison.Ordinal)
        || path.StartsWithSegments("/grpc.health.v1.Health", StringComparison.Ordinal);
}
