using Microsoft.Extensions.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Registry.Hosting.Grpc;
using Registry.Hosting.Logging;

namespace Registry.Hosting;

/// <summary>Builds the hosts every registry process runs: the gRPC service hosts and the edge.</summary>
public static class RegistryHost
{
    /// <summary>Command-line switches that stay stable for scripts outside the project.</summary>
    public static readonly IDictionary<string, string> SwitchMappings = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--data-dir"] = "Registry:DataDir",
    };

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
    public static WebApplicationBuilder CreateBuilder(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration.AddInMemoryCollection(RegistryEnvironment(Environment.GetEnvironmentVariables()));
        builder.Configuration.AddCommandLine(args, SwitchMappings);
        builder.UseRegistryLogging();
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
        var builder = CreateBuilder(args);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.ConfigureEndpointDefaults(listen => listen.Protocols = HttpProtocols.Http2);
            // Larger HTTP/2 windows let one blob stream run at disk speed instead of waiting on window updates.
            kestrel.Limits.Http2.InitialConnectionWindowSize = 8 * 1024 * 1024;
            kestrel.Limits.Http2.InitialStreamWindowSize = 4 * 1024 * 1024;
            kestrel.Limits.Http2.MaxStreamsPerConnection = 1024;
            if (unixSocketPath is not null)
            {
                kestrel.ListenUnixSocket(unixSocketPath, listen => listen.Protocols = HttpProtocols.Http2);
            }
        });
        builder.Services.AddGrpc(options =>
        {
            options.Interceptors.Add<OciExceptionInterceptor>();
            options.MaxReceiveMessageSize = 8 * 1024 * 1024;
            options.MaxSendMessageSize = 8 * 1024 * 1024;
            options.EnableDetailedErrors = false;
        });
        return builder;
    }
}
