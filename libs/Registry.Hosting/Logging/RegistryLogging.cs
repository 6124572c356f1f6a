using Microsoft.AspNetCore.Builder;
using Serilog;
using Serilog.Formatting.Compact;
using Serilog.Formatting.Display;

namespace Registry.Hosting.Logging;

/// <summary>Serilog as the logging provider of every registry process.</summary>
public static class RegistryLogging
{
    /// <summary>The category of the one line per request the edge logs at Information.</summary>
    public const string RequestsCategory = "Registry.Requests";

    /// <summary>
    /// Logs through Serilog: one JSON object per line by default, or a human console format when
    /// "Registry:Logging:Format" is "console"; also to a JSON file when "Registry:Logging:File" names
    /// one. Levels come from the "Serilog:MinimumLevel" section (<see cref="LogLevels"/>); its existing
    /// entries (Default and each Override) are applied again whenever the configuration reloads. Credentials
    /// never reach a sink (<see cref="SecretRedactor"/>). Every line carries the trace and span ids
    /// (@tr, @sp) of the current activity, and lines written during a request its RequestId.
    /// </summary>
    public static WebApplicationBuilder UseRegistryLogging(this WebApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var format = builder.Configuration["Registry:Logging:Format"] ?? "json";
        var file = builder.Configuration["Registry:Logging:File"];
        var levels = LogLevels.Bind(builder.Configuration);
        // Each host keeps its own logger (preserveStaticLogger): otherwise every host in the process logs
        // through the static Log.Logger, which the last host built replaces and the first host disposed
        // silences (the all-in-one process runs two hosts; the test suite runs many side by side).
        builder.Services.AddSerilog(
            (services, configuration) =>
        {
            levels.ApplyTo(configuration)
                .Enrich.FromLogContext()
                .Enrich.With<SecretRedactor>();
            // Formatting and writing happen on a background thread, off the request path; past the
            // buffer, lines are dropped rather than slowing requests down.
            configuration.WriteTo.Async(
                sink =>
                {
                    if (string.Equals(format, "console", StringComparison.OrdinalIgnoreCase))
                    {
                        sink.Console(new ScrubbingFormatter(new MessageTemplateTextFormatter(
                            "[{Timestamp:HH:mm:ss} {Level:u3}] {SourceContext}: {Message:lj} {RequestId} {TraceId}{NewLine}{Exception}")));
                    }
                    else
                    {
                        sink.Console(new ScrubbingFormatter(new RenderedCompactJsonFormatter()));
                    }
                },
                bufferSize: 16384,
                blockWhenFull: false);

            if (!string.IsNullOrEmpty(file))
            {
                // Shared: in the all-in-one layout the edge and the services host write to the same file.
                configuration.WriteTo.File(new ScrubbingFormatter(new RenderedCompactJsonFormatter()), file, shared: true);
            }
        },
            preserveStaticLogger: true);
        return builder;
    }
}
