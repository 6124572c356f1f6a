using Microsoft.AspNetCore.Builder;
using Serilog;
using Serilog.Formatting.Compact;

namespace Registry.Hosting.Logging;

/// <summary>Serilog as the logging provider of every registry process.</summary>
public static class RegistryLogging
{
    /// <summary>
    /// Logs through Serilog: one JSON object per line by default, or a human console format when
    /// "Registry:Logging:Format" is "console". Levels come from the "Serilog" configuration section.
    /// </summary>
    public static WebApplicationBuilder UseRegistryLogging(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var format = builder.Configuration["Registry:Logging:Format"] ?? "json";
        builder.Services.AddSerilog((services, configuration) =>
        {
            configuration
                .MinimumLevel.Information()
                .MinimumLevel.Override("Microsoft.AspNetCore", Serilog.Events.LogEventLevel.Warning)
                .MinimumLevel.Override("Grpc", Serilog.Events.LogEventLevel.Warning)
                .ReadFrom.Configuration(builder.Configuration)
                .Enrich.FromLogContext();
            if (string.Equals(format, "console", StringComparison.OrdinalIgnoreCase))
            {
                configuration.WriteTo.Console();
            }
            else
            {
                configuration.WriteTo.Console(new RenderedCompactJsonFormatter());
            }
        });
        return builder;
    }
}
