using Registry.Auth;
using Registry.Blob;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Registry.EdgeHttp.Caching;
using Registry.EdgeHttp.Diagnostics;
using Registry.EdgeHttp.Clients;
using Registry.EdgeHttp.Hosting;
using Registry.EdgeHttp.Http;
using Registry.EdgeHttp.Pipeline;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Registry.Hosting;
using Registry.Hosting.Memory;
using Registry.EdgeHttp.Observability;
using Registry.Hosting.Observability;
using Registry.Hosting.Observability.Leaks;
using Registry.Manifest;

namespace Registry.EdgeHttp;

/// <summary>
/// Starts the registry. By default all four parts run in this process: the three gRPC services in one
/// host on a private Unix socket, and the edge, which reaches them over gRPC through that socket. A
/// service whose address is configured (Registry:Services:Auth, :Manifest, :Blob) is not hosted here;
/// when all three are, this process is the edge alone.
/// </summary>
public static class RegistryApp
{
    /// <summary>
    /// Deletes the private sockets of all-in-one registries that died without cleaning up (kill -9): their
    /// names carry the process id, and a process id with no /proc entry is gone.
    /// </summary>
    private static void SweepStaleSockets()
    {
        if (!Directory.Exists("/proc"))
        {
            return;
        }

        foreach (var path in Directory.EnumerateFiles(Path.GetTempPath(), "registry-*-*.sock"))
        {
            var parts = Path.GetFileName(path).Split('-');
            if (parts.Length == 3
                && int.TryParse(parts[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var pid)
                && pid != Environment.ProcessId
                && !Directory.Exists($"/proc/{pid}"))
            {
                try
                {
                    File.Delete(path);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // Someone else's file, or already gone: not ours to fight over.
                }
            }
        }
    }

    /// <summary>Starts the registry from command-line style arguments and returns once it listens.</summary>
    public static async Task<RegistryInstance> StartAsync(string[] args, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var builder = RegistryHost.CreateBuilder(args);
        var addresses = builder.Configuration.GetSection(ServiceAddresses.SectionName).Get<ServiceAddresses>() ?? new ServiceAddresses();

        WebApplication? services = null;
        string? socketPath = null;
        if (addresses.Auth.Length == 0 || addresses.Manifest.Length == 0 || addresses.Blob.Length == 0)
        {
            SweepStaleSockets();
            socketPath = Path.Combine(Path.GetTempPath(), $"registry-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..8]}.sock");
            var local = "unix:" + socketPath;
            addresses.Auth = Fill(addresses.Auth, local);
            addresses.Manifest = Fill(addresses.Manifest, local);
            addresses.Blob = Fill(addresses.Blob, local);
            services = BuildServices(args, socketPath, addresses);
            await services.StartAsync(cancellationToken);
        }

        try
        {
            return await StartEdgeAsync(builder, addresses, services, socketPath, cancellationToken);
        }
        catch
        {
            // The edge could not start (its port taken, a setting refused): the in-process services and their
            // private socket must not outlive it.
            if (services is not null)
            {
                await services.StopAsync(CancellationToken.None);
                await services.DisposeAsync();
            }

            if (socketPath is not null)
            {
                File.Delete(socketPath);
            }

            throw;
        }
    }

    private static async Task<RegistryInstance> StartEdgeAsync(
        WebApplicationBuilder builder,
        ServiceAddresses addresses,
        WebApplication? services,
        string? socketPath,
        CancellationToken cancellationToken)
    {
        builder.Configuration[$"{ServiceAddresses.SectionName}:Auth"] = addresses.Auth;
        builder.Configuration[$"{ServiceAddresses.SectionName}:Manifest"] = addresses.Manifest;
        builder.Configuration[$"{ServiceAddresses.SectionName}:Blob"] = addresses.Blob;
        if (string.IsNullOrEmpty(builder.Configuration["urls"]))
        {
            builder.WebHost.UseUrls("http://127.0.0.1:5000");
        }

        var maxConnections = builder.Configuration.GetValue<int>($"{EdgeOptions.SectionName}:{nameof(EdgeOptions.MaxConnections)}");
        var retryAfter = builder.Configuration.GetValue($"{EdgeOptions.SectionName}:Pipeline:{nameof(PipelineOptions.RetryAfterSeconds)}", new PipelineOptions().RetryAfterSeconds);
        var evictIdleAfter = builder.Configuration.GetValue($"{EdgeOptions.SectionName}:{nameof(EdgeOptions.EvictIdleAfter)}", new EdgeOptions().EvictIdleAfter);
        if (evictIdleAfter < TimeSpan.Zero)
        {
            throw new InvalidOperationException($"{EdgeOptions.SectionName}:{nameof(EdgeOptions.EvictIdleAfter)} must not be negative.");
        }

        var maxPerClient = builder.Configuration.GetValue<int>($"{EdgeOptions.SectionName}:{nameof(EdgeOptions.MaxConnectionsPerClient)}");
        if (maxPerClient < 0)
        {
            throw new InvalidOperationException($"{EdgeOptions.SectionName}:{nameof(EdgeOptions.MaxConnectionsPerClient)} must not be negative (0: no limit).");
        }

        var gate = new ConnectionGate(
            maxConnections > 0
                ? maxConnections
                : Math.Min(ConnectionGate.MaxFor(HeapPressure.LimitBytes), ConnectionGate.MaxForDescriptors(DescriptorLimit.Soft, DescriptorLimit.Open)),
            retryAfter,
            evictIdleAfter,
            maxPerClient);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureEndpointDefaults(listen => listen.Use(gate.Wrap));

            // Blob downloads flush every 512 KiB: a 64 KiB response buffer (the default) would stall them on every
            // flush, a larger one keeps more of Kestrel's pooled (never returned) blocks per connection.
            kestrel.Limits.MaxResponseBufferSize = 256 * 1024;
            // TODO: a request line or head over Kestrel's limits (8 KiB, 32 KiB) gets Kestrel's empty 414/431, not an OCI error body.
            // Header values may carry bytes above 0x7F (obs-text, RFC 9110 5.5), as a User-Agent with an
            // accented host name does; Go's server (distribution) takes them, Kestrel would answer an empty
            // 400 before any OCI handling. Latin-1 keeps every byte as one character. The headers that frame
            // or route the request keep Kestrel's strict ASCII: read as Latin-1, a Content-Length longer than
            // 20 characters dropped the connection unanswered and a vertical tab around it was accepted.
            kestrel.RequestHeaderEncodingSelector = static name => IsFramingHeader(name) ? null : System.Text.Encoding.Latin1;
        });
        AddEdge(builder.Services, builder.Configuration);
        var edge = builder.Build();
        OciErrorWriter.WarmUp();
        var endpoint = edge.Services.GetRequiredService<OciEndpoint>();
        // The OCI API has one handler, which parses the path itself: a terminal middleware, not a routed
        // endpoint, so no request under /v2 pays for a route value dictionary and the catch-all's string.
        // A connection let through past the bound as a probe serves probes only.
        edge.Use(next => context => ConnectionGate.IsPastBound(context) ? gate.ServePastBoundAsync(context, next)
            : context.Request.Path.StartsWithSegments("/v2", StringComparison.OrdinalIgnoreCase) ? endpoint.HandleAsync(context)
            : ConnectionGate.RunBusyAsync(context, next));
        edge.MapRegistryObservability();
        try
        {
            await edge.StartAsync(cancellationToken);
        }
        catch
        {
            // Its timers (the pipeline's pressure checks) and clients go with it.
            await edge.DisposeAsync();
            throw;
        }

        var address = new Uri(edge.Urls.First().Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal));
        return new RegistryInstance(edge, services, socketPath, address);
    }

    /// <summary>Runs the registry until SIGTERM or Ctrl+C, then stops it gracefully.</summary>
    public static async Task RunAsync(string[] args)
    {
        var instance = await StartAsync(args);
        await using (instance)
        {
            // A shutdown that has not finished 15 s past its grace period (a process wedged at its heap
            // limit did not honour SIGTERM for minutes) ends the process, for its supervisor to restart it.
            ProcessMain.StartBackstop("registry");
            var backstopAfter = instance.ShutdownGracePeriod + TimeSpan.FromSeconds(15);
            using var arming = instance.Stopping.Register(() => ProcessMain.ArmBackstop(backstopAfter));
            await instance.WaitForShutdownAsync();
        }
    }

    private static void AddEdge(IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<EdgeOptions>().Bind(configuration.GetSection(EdgeOptions.SectionName))
            .Validate(options => { options.Pipeline.Validate(); return true; })
            .Validate(options => options.ResponseStallTimeout > TimeSpan.Zero, $"{EdgeOptions.SectionName}:{nameof(EdgeOptions.ResponseStallTimeout)} must be positive.")
            .Validate(options => options.MaxBlobBodies >= 0, $"{EdgeOptions.SectionName}:{nameof(EdgeOptions.MaxBlobBodies)} must not be negative (0: derived from the heap limit).")
            .Validate(
                options => options.SlowReaderCutAfter >= TimeSpan.Zero || options.SlowReaderCutAfter == Timeout.InfiniteTimeSpan,
                $"{EdgeOptions.SectionName}:{nameof(EdgeOptions.SlowReaderCutAfter)} must not be negative (-00:00:00.001: never cut).")
            .ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ServiceClients>();
        services.AddSingleton<ManifestCache>();
        services.AddSingleton<ManifestReader>();
        services.AddSingleton<AuthDecisionCache>();
        services.AddSingleton<Locations>();
        services.AddSingleton<EdgeContext>();
        services.AddSingleton<RequestPipeline>();
        services.AddSingleton<CancellationMetrics>();
        services.AddSingleton<OciEndpoint>();
        services.AddSingleton<InFlightRequests>();
        services.AddSingleton<ILeakSignal>(provider => provider.GetRequiredService<InFlightRequests>());
        services.AddSingleton<ILeakSignal, StuckRequests>();
        var checks = services.AddHealthChecks();
        checks.Add(new HealthCheckRegistration(
            "edge-pipeline",
            provider => new PipelineHealthCheck(provider.GetRequiredService<RequestPipeline>(), provider.GetRequiredService<Microsoft.Extensions.Options.IOptions<EdgeOptions>>()),
            HealthStatus.Unhealthy,
            [HealthTags.Live, HealthTags.Ready]));
        // Near its heap limit the edge refuses new work: out of rotation while critical, alive all the same.
        checks.AddCheck("heap-pressure", static () => HeapPressure.Level switch
        {
            HeapPressureLevel.Critical => HealthCheckResult.Unhealthy("the heap is near the memory the GC may use: new requests are refused"),
            HeapPressureLevel.High => HealthCheckResult.Degraded("the heap is filling up: new blob transfers are refused"),
            _ => HealthCheckResult.Healthy(),
        }, [HealthTags.Ready]);
        string[] names = ["auth", "manifest", "blob"];
        for (var i = 0; i < names.Length; i++)
        {
            var index = i;
            checks.Add(new HealthCheckRegistration(
                $"edge-to-{names[i]}",
                provider => new GrpcServiceHealthCheck(provider.GetRequiredService<ServiceClients>().Channels[index]),
                HealthStatus.Unhealthy,
                [HealthTags.Ready, HealthTags.Downstream]));
        }
    }

    private static WebApplication BuildServices(string[] args, string socketPath, ServiceAddresses addresses)
    {
        // The edge owns --urls; this host listens on its socket only.
        var builder = RegistryHost.CreateServiceBuilder(WithoutUrls(args), socketPath);
        builder.Configuration[$"{ServiceAddresses.SectionName}:Blob"] = addresses.Blob;
        builder.Services.AddSingleton<IHostLifetime, EmbeddedHostLifetime>();
        builder.Services.AddAuthService();
        builder.Services.AddManifestService(builder.Configuration);
        builder.Services.AddBlobService(builder.Configuration);
        var app = builder.Build();
        app.MapAuthService();
        app.MapManifestService();
        app.MapBlobService();
        app.MapServiceObservability();
        return app;
    }

    private static string[] WithoutUrls(string[] args)
    {
        var kept = new List<string>(args.Length);
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] is "--urls" or "/urls")
            {
                i++;
                continue;
            }

            if (!args[i].StartsWith("--urls=", StringComparison.Ordinal))
            {
                kept.Add(args[i]);
            }
        }

        return [.. kept];
    }

    private static string Fill(string configured, string local) => configured.Length > 0 ? configured : local;

    // Content-Length, Transfer-Encoding and Host decide where a request ends and whom it is for.
    private static bool IsFramingHeader(string name) =>
        name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase)
        || name.Equals("Host", StringComparison.OrdinalIgnoreCase);
}
