using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace Registry.Hosting.Logging;

/// <summary>
/// The minimum levels of the "Serilog:MinimumLevel" section: either one level ("Warning") or "Default"
/// plus "Override:&lt;category prefix&gt;" entries. Each level is a switch the logger consults, so a
/// reloaded configuration changes it at once. Read here rather than through Serilog's reflection-based
/// configuration reader, which native AOT cannot trim safely.
/// </summary>
/// <remarks>
/// Serilog fixes its set of overrides when the logger is made, so only categories that have an entry
/// at start (in configuration or in <see cref="Seeds"/>) can change later; a category added by a reload
/// is ignored. An entry that a reload removes goes back to its seed, or to the default level.
/// </remarks>
public sealed class LogLevels
{
    /// <summary>Overrides in force even when configuration names none: framework chatter stays at Warning.</summary>
    public static readonly IReadOnlyDictionary<string, LogEventLevel> Seeds = new Dictionary<string, LogEventLevel>(StringComparer.OrdinalIgnoreCase)
    {
        ["Microsoft.AspNetCore"] = LogEventLevel.Warning,
        ["Grpc"] = LogEventLevel.Warning,
    };

    private const string Section = "Serilog:MinimumLevel";
    private const LogEventLevel DefaultLevel = LogEventLevel.Information;

    // Keyed as configuration keys are, without regard to case (a reload may spell a category differently);
    // each switch keeps the spelling it was made with, which Serilog compares with categories as they are.
    private readonly Dictionary<string, LoggingLevelSwitch> overrides = new(StringComparer.OrdinalIgnoreCase);

    private LogLevels(IConfiguration configuration)
    {
        var levels = Read(configuration, throwOnInvalid: true);
        Default = new LoggingLevelSwitch(levels.Default);
        foreach (var (category, level) in levels.Overrides)
        {
            overrides[category] = new LoggingLevelSwitch(level);
        }
    }

    /// <summary>The level of every category without an override.</summary>
    public LoggingLevelSwitch Default { get; }

    /// <summary>The switch of one category prefix, when it had an entry at start.</summary>
    public LoggingLevelSwitch? Override(string category) => overrides.GetValueOrDefault(category);

    /// <summary>
    /// Reads the levels (an invalid level name fails with the entry named) and keeps them following
    /// the configuration's reloads for as long as it lives.
    /// </summary>
    public static LogLevels Bind(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var levels = new LogLevels(configuration);
        ChangeToken.OnChange(configuration.GetReloadToken, () => levels.Apply(configuration));
        return levels;
    }

    /// <summary>Puts the switches on a logger's configuration.</summary>
    public LoggerConfiguration ApplyTo(LoggerConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        configuration.MinimumLevel.ControlledBy(Default);
        foreach (var (category, levelSwitch) in overrides)
        {
            configuration.MinimumLevel.Override(category, levelSwitch);
        }

        return configuration;
    }

    // Sets every switch from the configuration as it is after a reload. An invalid level name leaves its
    // switch as it was: there is nobody to fail to on a reload.
    private void Apply(IConfiguration configuration)
    {
        var levels = Read(configuration, throwOnInvalid: false);
        if (levels.DefaultValid)
        {
            Default.MinimumLevel = levels.Default;
        }

        foreach (var (category, levelSwitch) in overrides)
        {
            if (levels.Overrides.TryGetValue(category, out var level))
            {
                levelSwitch.MinimumLevel = level;
            }
            else if (!levels.InvalidOverrides.Contains(category))
            {
                levelSwitch.MinimumLevel = Seeds.TryGetValue(category, out var seed) ? seed : Default.MinimumLevel;
            }
        }
    }

    private static Levels Read(IConfiguration configuration, bool throwOnInvalid)
    {
        var section = configuration.GetSection(Section);
        var overrides = new Dictionary<string, LogEventLevel>(Seeds, StringComparer.OrdinalIgnoreCase);
        var invalid = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var defaultLevel = DefaultLevel;
        var defaultValid = true;

        // "MinimumLevel": "Warning" and "MinimumLevel": { "Default": "Warning" } mean the same.
        var defaultText = section.Value ?? section["Default"];
        if (defaultText is not null)
        {
            defaultValid = TryParse(defaultText, out defaultLevel);
            if (!defaultValid && throwOnInvalid)
            {
                throw Invalid(section.Value is null ? Section + ":Default" : Section, defaultText);
            }
        }

        foreach (var entry in section.GetSection("Override").GetChildren())
        {
            if (entry.Value is null)
            {
                continue;
            }

            if (TryParse(entry.Value, out var level))
            {
                overrides[entry.Key] = level;
            }
            else if (throwOnInvalid)
            {
                throw Invalid(entry.Path, entry.Value);
            }
            else
            {
                invalid.Add(entry.Key);
            }
        }

        return new Levels(defaultLevel, defaultValid, overrides, invalid);
    }

    // Names only: Enum.TryParse would also take "3" or "Warning, Error".
    private static bool TryParse(string text, out LogEventLevel level)
    {
        var name = text.Trim();
        level = default;
        return name.Length > 0 && char.IsAsciiLetter(name[0]) && !name.Contains(',', StringComparison.Ordinal)
            && Enum.TryParse(name, ignoreCase: true, out level);
    }

    private static InvalidOperationException Invalid(string path, string value) =>
        new($"{path}: '{value}' is not a log level (Verbose, Debug, Information, Warning, Error or Fatal).");

    private sealed record Levels(
        LogEventLevel Default,
        bool DefaultValid,
        Dictionary<string, LogEventLevel> Overrides,
        HashSet<string> InvalidOverrides);
}
