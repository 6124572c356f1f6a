using System.Collections;
using System.Runtime;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Registry.Hosting.Observability;

/// <summary>
/// Logs, once the host listens, what an operator needs to know about the process: the effective
/// "Registry" settings (secrets redacted), GC mode, heap limit, CPU count and listening addresses, and a
/// warning for runtime GC settings the native build ignores.
/// </summary>
internal sealed partial class StartupReport : IHostedService
{
    private static readonly string[] SecretWords =
        ["secret", "password", "passwd", "pwd", "token", "key", "credential", "connectionstring", "apikey"];

    private readonly IConfiguration _configuration;
    private readonly IServer _server;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly IHostEnvironment _environment;
    private readonly ILogger<StartupReport> _logger;

    public StartupReport(
        IConfiguration configuration,
        IServer server,
        IHostApplicationLifetime lifetime,
        IHostEnvironment environment,
        ILogger<StartupReport> logger)
    {
        _configuration = configuration;
        _server = server;
        _lifetime = lifetime;
        _environment = environment;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _lifetime.ApplicationStarted.Register(Report);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The "Registry" settings as flat key/value pairs, with secret-looking values replaced.</summary>
    internal static Dictionary<string, string?> EffectiveSettings(IConfiguration configuration)
    {
        var keys = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (key, value) in configuration.GetSection(RegistryOptions.SectionName).AsEnumerable())
        {
            if (value is not null)
            {
                keys.Add(key);
            }
        }

        var settings = new Dictionary<string, string?>(keys.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var key in keys)
        {
            var value = configuration[key];
            // A URL's user information and query are cut from any value (http://user:pass@host/?sig=…).
            settings[key] = IsSecret(key) && !string.IsNullOrEmpty(value) ? "***"
                : value is null ? null : Logging.SecretRedactor.Scrub(value);
        }

        return settings;
    }

    private static bool IsSecret(string key)
    {
        foreach (var word in SecretWords)
        {
            if (key.Contains(word, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The DOTNET_GC* (or COMPlus_GC*) variables whose value starts with 0x. The native runtime reads
    /// these values as bare hexadecimal digits and drops one with the prefix without a word (measured:
    /// DOTNET_GCHeapHardLimit=0x20000000 left the limit at the machine's memory); the JIT runtime takes both.
    /// </summary>
    internal static List<string> PrefixedGcVariables(IDictionary environment)
    {
        var found = new List<string>();
        foreach (DictionaryEntry entry in environment)
        {
            if (entry.Key is string name && entry.Value is string value
                && (name.StartsWith("DOTNET_GC", StringComparison.OrdinalIgnoreCase)
                    || name.StartsWith("COMPlus_GC", StringComparison.OrdinalIgnoreCase))
                && value.TrimStart().StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                found.Add($"{name}={value}");
            }
        }

        found.Sort(StringComparer.Ordinal);
        return found;
    }

    private void Report()
    {
        if (!RuntimeFeature.IsDynamicCodeSupported)
        {
            foreach (var variable in PrefixedGcVariables(Environment.GetEnvironmentVariables()))
            {
                Log.GcVariableIgnored(_logger, variable);
            }
        }

        var memory = GC.GetGCMemoryInfo();
        var addresses = _server.Features.Get<IServerAddressesFeature>()?.Addresses;
        Log.Started(
            _logger,
            _environment.ApplicationName,
            addresses is null ? string.Empty : string.Join(' ', addresses),
            GCSettings.IsServerGC ? "server" : "workstation",
            GCSettings.LatencyMode.ToString(),
            AppContext.GetData("GCDynamicAdaptationMode")?.ToString() ?? "default",
            memory.TotalAvailableMemoryBytes,
            Environment.ProcessorCount,
            Environment.Version.ToString());
        Log.Settings(_logger, EffectiveSettings(_configuration));
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 110, EventName = "ProcessStarted", Level = LogLevel.Information,
            Message = "Started ({Host}) on {Addresses}: GC {GcMode}, latency mode {GcLatencyMode}, DATAS {GcDynamicAdaptation}, heap limit {HeapLimitBytes} bytes, {CpuCount} CPUs, .NET {RuntimeVersion}")]
        public static partial void Started(
            ILogger logger,
            string host,
            string addresses,
            string gcMode,
            string gcLatencyMode,
            string gcDynamicAdaptation,
            long heapLimitBytes,
            int cpuCount,
            string runtimeVersion);

        [LoggerMessage(EventId = 111, EventName = "EffectiveSettings", Level = LogLevel.Information,
            Message = "Effective settings {Settings}")]
        public static partial void Settings(ILogger logger, Dictionary<string, string?> settings);

        [LoggerMessage(EventId = 112, EventName = "GcVariableIgnored", Level = LogLevel.Warning,
            Message = "{Variable} is ignored by this native build: write the value in hexadecimal without 0x")]
        public static partial void GcVariableIgnored(ILogger logger, string variable);

        // Next free id: 113 (observability uses 110-139).
    }
}
