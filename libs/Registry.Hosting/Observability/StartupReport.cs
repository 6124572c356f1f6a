using System.Collections;
using System.Globalization;
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
/// "Registry" settings (secrets redacted), GC mode, heap limit, CPU count and listening addresses, and
/// (once per process) a warning for each runtime GC setting the native build ignores.
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
    /// The GC variables a native build ignores without a word, each with the reason. Measured on this
    /// runtime: it reads only DOTNET_ names (COMPlus_ ones not at all) and takes a value only as 1 to 16
    /// hexadecimal digits, so "0x20000000", " 200000" or "+1" are dropped; the JIT runtime takes those.
    /// Names are matched as the runtime matches them, case-sensitively.
    /// </summary>
    internal static List<(string Variable, string Reason)> IgnoredNativeGcVariables(IDictionary environment)
    {
        var found = new List<(string Variable, string Reason)>();
        foreach (DictionaryEntry entry in environment)
        {
            if (entry.Key is not string name || entry.Value is not string value)
            {
                continue;
            }

            if (name.StartsWith("COMPlus_GC", StringComparison.Ordinal) || name.StartsWith("COMPlus_gc", StringComparison.Ordinal))
            {
                found.Add(($"{name}={value}", "a native build reads only DOTNET_ variables"));
            }
            else if ((name.StartsWith("DOTNET_GC", StringComparison.Ordinal) || name.StartsWith("DOTNET_gc", StringComparison.Ordinal))
                && !IsBareHex(value))
            {
                found.Add(($"{name}={value}", "a native build takes 1 to 16 hexadecimal digits, without 0x, sign or spaces"));
            }
        }

        found.Sort((a, b) => string.CompareOrdinal(a.Variable, b.Variable));
        return found;
    }

    private static bool IsBareHex(string value) => TryParseBareHex(value, out _);

    // AllowHexSpecifier alone takes hexadecimal digits only: no 0x, sign or white space.
    private static bool TryParseBareHex(string value, out ulong number)
    {
        number = 0;
        return value.Length <= 16 && ulong.TryParse(value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out number);
    }

    // The all-in-one process runs two hosts, each with its own report, but one runtime: warn once.
    private static int _gcVariablesChecked;

    private void WarnAboutIgnoredGcVariables()
    {
        if (RuntimeFeature.IsDynamicCodeSupported || Interlocked.Exchange(ref _gcVariablesChecked, 1) != 0)
        {
            return;
        }

        foreach (var (variable, reason) in IgnoredNativeGcVariables(Environment.GetEnvironmentVariables()))
        {
            Log.GcVariableIgnored(_logger, variable, reason);
        }

        // A native executable links the GC mode it was published with; DOTNET_gcServer cannot change it.
        var server = Environment.GetEnvironmentVariable("DOTNET_gcServer");
        if (server is not null && TryParseBareHex(server, out var serverGc) && serverGc != 0 && !GCSettings.IsServerGC)
        {
            Log.GcVariableIgnored(_logger, $"DOTNET_gcServer={server}",
                "this native build runs the workstation GC it was published with");
        }
    }

    /// <summary>The least memory the GC may use for the registry to hold under load: the benchmark's loads ended it at 32 MiB.</summary>
    internal const long LeastHeapLimitBytes = 64L * 1024 * 1024;

    private static int _heapLimitChecked;

    private void Report()
    {
        WarnAboutIgnoredGcVariables();

        var memory = GC.GetGCMemoryInfo();
        if (memory.TotalAvailableMemoryBytes < LeastHeapLimitBytes && Interlocked.Exchange(ref _heapLimitChecked, 1) == 0)
        {
            Log.HeapLimitTooSmall(_logger, memory.TotalAvailableMemoryBytes, LeastHeapLimitBytes);
        }

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
            Message = "{Variable} is ignored: {Reason}")]
        public static partial void GcVariableIgnored(ILogger logger, string variable, string reason);

        [LoggerMessage(EventId = 113, EventName = "HeapLimitTooSmall", Level = LogLevel.Warning,
            Message = "The GC may use {HeapLimitBytes} bytes, less than the {LeastBytes} the registry needs to hold under load: a burst may end the process (its allocations in Kestrel and timers cannot be refused). Raise DOTNET_GCHeapHardLimit or the container's memory limit")]
        public static partial void HeapLimitTooSmall(ILogger logger, long heapLimitBytes, long leastBytes);

        // Next free id: 114 (observability uses 110-139).
    }
}
