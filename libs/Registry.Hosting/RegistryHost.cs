using Microsoft.Extensions.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Registry.Hosting.Grpc;
using Registry.Hosting.Logging;
using Registry.Hosting.Memory;
using Registry.Hosting.Observability;
using Registry.Hosting.Observability.Admin;
using Registry.Hosting.Observability.Leaks;

namespace Registry.Hosting;

/// <summary>Builds the hosts every registry process runs: the gRPC service hosts and the edge.</summary>
public static class RegistryHost
{
    /// <summary>Command-line switches that stay stable for scripts outside the project.</summary>
    public static readonly IDictionary<string, string> SwitchMappings = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--data-dir"] = "Registry:DataDir",
        ["--config"] = "Registry:ConfigFile",
    };

    /// <summary>
    /// Where a gRPC service host also listens with HTTP/1.1 for /metrics and /healthz, e.g.
    /// "http://127.0.0.1:9103". Empty (the default): only the gRPC addresses, which serve them over h2c.
    /// </summary>
    public const string ObservabilityUrlKey = "Registry:Observability:HttpUrl";

    /// <summary>
    /// Maps REGISTRY_-prefixed environment variables into the Registry section:
    /// <c>REGISTRY_Edge__ExternalUrl</c> sets <c>Registry:Edge:ExternalUrl</c>, like <c>Registry__Edge__ExternalUrl</c>.
    /// </summary>
    public static IEnumerable<KeyValuePair<string, string?>> RegistryEnvironment(System.Collections.IDictionary variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        const string Prefix = "REGISTRY_";
        foreach (System.Collections.DictionaryEntry variable in variables)
        {
            if (variable.Key is string name
                && name.Length > Prefix.Length
                && name.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase)
                && name[Prefix.Length] != '_')
            {
                yield return new(RegistryOptions.SectionName + ":" + name[Prefix.Length..].Replace("__", ":", StringComparison.Ordinal), variable.Value as string);
            }
        }
    }

    /// <summary>
    /// Creates a builder with the settings every registry process shares: configuration from
    /// appsettings.json, environment variables (ASP.NET's, plus REGISTRY_-prefixed ones for the Registry
    /// section), the command line (with <see cref="SwitchMappings"/>), Serilog, and <see cref="RegistryOptions"/>.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder(string[] args) => CreateBuilder(args, primary: true);

    // primary: false for a host that shares its process with another (the all-in-one's embedded services):
    // tracer providers listen process-wide and the runtime is one, so only the primary host traces and
    // watches the runtime for leaks, else every span and every runtime report would come twice.
    private static WebApplicationBuilder CreateBuilder(string[] args, bool primary)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(RegistryEnvironment(Environment.GetEnvironmentVariables()));
        builder.Configuration.AddCommandLine(args, SwitchMappings);
        AddConfigFile(builder.Configuration);
        builder.UseRegistryLogging();
        builder.AddRegistryObservability();
        if (primary)
        {
            builder.AddRegistryTracing();
            builder.Services.Configure<AdminOptions>(builder.Configuration.GetSection(AdminOptions.SectionName));
            builder.Services.AddSingleton<AdminServer>();
            builder.Services.AddHostedService(provider => provider.GetRequiredService<AdminServer>());

            // One runtime per process: the primary host trims it.
            builder.Services.AddOptions<MemoryOptions>().Bind(builder.Configuration.GetSection(MemoryOptions.SectionName));
            builder.Services.TryAddSingleton(TimeProvider.System);
            builder.Services.AddHostedService<IdleMemoryTrimmer>();
            builder.Services.AddHostedService<HeapPressureWatcher>();
        }

        var memory = builder.Configuration.GetSection(MemoryOptions.SectionName).Get<MemoryOptions>() ?? new MemoryOptions();
        memory.Validate();
        if (memory.RetainedPoolBytes >= 0)
        {
            // Registered after Kestrel's own factory, so Kestrel's listeners get this one.
            // Under a heap hard limit (or a container's) buffers and their ceilings shrink with it.
            var limit = HeapPressure.LimitBytes;
            builder.Services.AddSingleton<IMemoryPoolFactory<byte>>(new BoundedBlockPoolFactory(
                MemoryOptions.EffectiveRetainedBytes(memory.RetainedPoolBytes, limit), memory.EffectiveIoBlockBytes(limit), memory.IdleCheckInterval,
                memory.LargeBlockBytes, MemoryOptions.EffectiveRetainedBytes(memory.RetainedLargePoolBytes, limit), coldCeilingBytes: limit / 8));
        }

        builder.WebHost.UseSockets(sockets => sockets.MaxReadBufferSize = memory.EffectiveReadAheadBytes(HeapPressure.LimitBytes));
        // Kestrel's socket transport, wrapped so that a failed accept does not end its accept loop.
        builder.Services.RemoveAll<IConnectionListenerFactory>();
        builder.Services.AddSingleton<SocketTransportFactory>();
        builder.Services.AddSingleton<IConnectionListenerFactory>(provider => new AcceptLoopGuard(
            provider.GetRequiredService<SocketTransportFactory>(),
            provider.GetRequiredService<ILogger<AcceptLoopGuard>>(),
            static _ => ProcessMain.RequestExit(1)));
        builder.Services.AddLeakDetector(builder.Configuration, runtimeSignals: primary);
        builder.Services.Configure<RegistryOptions>(builder.Configuration.GetSection(RegistryOptions.SectionName));
        builder.Services.Configure<ServiceAddresses>(builder.Configuration.GetSection(ServiceAddresses.SectionName));
        var grace = builder.Configuration.GetSection(RegistryOptions.SectionName).Get<RegistryOptions>()?.ShutdownGracePeriod
            ?? TimeSpan.FromSeconds(30);
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = grace);
        return builder;
    }

    /// <summary>
    /// Creates a builder for a host of gRPC services. Endpoints speak HTTP/2 only; when
    /// <paramref name="unixSocketPath"/> is given the host listens there and nowhere else.
    /// </summary>
    public static WebApplicationBuilder CreateServiceBuilder(string[] args, string? unixSocketPath = null)
    {
        // A host on a Unix socket is the all-in-one process's embedded services host: the edge traces for both.
        var builder = CreateBuilder(args, primary: unixSocketPath is null);
        var observabilityUrl = builder.Configuration[ObservabilityUrlKey] ?? string.Empty;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureEndpointDefaults(listen => listen.Protocols = HttpProtocols.Http2);
            // Larger HTTP/2 windows let one blob stream run at disk speed instead of waiting on window updates.
            // TODO: 512 KiB stream windows saved ~55 MiB of heap after 500 abandoned uploads but broke the shared
            // connection (DATA after an early refusal's reset); refusals of bodies up to 16 MiB now wait for the
            // stream's end, so they are worth trying again (scripts/stress-early-answers.sh).
            kestrel.Limits.Http2.InitialConnectionWindowSize = 8 * 1024 * 1024;
            kestrel.Limits.Http2.InitialStreamWindowSize = 4 * 1024 * 1024;
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1024;
            if (unixSocketPath is not null)
            {
                kestrel.ListenUnixSocket(unixSocketPath, listen => listen.Protocols = HttpProtocols.Http2);
            }
            else if (observabilityUrl.Length > 0)
            {
                // gRPC speaks HTTP/2 without TLS, which Prometheus and load balancers' probes do not:
                // /metrics and /healthz get their own HTTP/1.1 port beside the gRPC ones.
                foreach (var url in (builder.Configuration["urls"] ?? "http://localhost:5000").Split(';', StringSplitOptions.RemoveEmptyEntries))
                {
                    KestrelUrls.Listen(kestrel, url, HttpProtocols.Http2);
                }

                KestrelUrls.Listen(kestrel, observabilityUrl, HttpProtocols.Http1);
            }
        });
        builder.Services.AddRegistryGrpcHealth();
        builder.Services.AddGrpc(options =>
        {
            // First, so that it sees the status the other interceptors turn exceptions into.
            options.Interceptors.Add<GrpcServerMetricsInterceptor>();
            options.Interceptors.Add<OciExceptionInterceptor>();
            options.MaxReceiveMessageSize = 8 * 1024 * 1024;
            options.MaxSendMessageSize = 8 * 1024 * 1024;
            options.EnableDetailedErrors = false;
        });
        return builder;
    }

    // An operator's settings file (--config): above appsettings.json, below environment and command line,
    // and reloaded on change, so log levels in it apply without a restart.
    private static void AddConfigFile(ConfigurationManager configuration)
    {
        var path = configuration["Registry:ConfigFile"];
        if (string.IsNullOrEmpty(path))
        {
            return;
        }

        var full = Path.GetFullPath(path);
        var source = new Microsoft.Extensions.Configuration.Json.JsonConfigurationSource
        {
            Path = Path.GetFileName(full),
            Optional = false,
            ReloadOnChange = true,
            // Polling (every few seconds) also sees a file replaced through a symlink, as mounted config maps are.
            FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.GetDirectoryName(full)!)
            {
                UsePollingFileWatcher = true,
                UseActivePolling = true,
            },
        };
        // Just after the last JSON file (appsettings.json, appsettings.{Environment}.json).
        var sources = configuration.Sources;
        var index = sources.Count;
        for (var i = sources.Count - 1; i >= 0; i--)
        {
            if (sources[i] is Microsoft.Extensions.Configuration.Json.JsonConfigurationSource)
            {
                index = i + 1;
                break;
            }
        }

        sources.Insert(index, source);
    }

    /// <summary>Maps /metrics, /healthz/live, /healthz/ready and the gRPC health service on a gRPC service host.</summary>
    public static WebApplication MapServiceObservability(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapRegistryObservability();
        app.MapGrpcHealthChecksService();
        return app;
    }
}
