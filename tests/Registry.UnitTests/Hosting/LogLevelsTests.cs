using Microsoft.Extensions.Configuration;
using Registry.Hosting.Logging;
using Serilog;
using Serilog.Core;
using Serilog.Events;

namespace Registry.UnitTests.Hosting;

public sealed class LogLevelsTests
{
    [Fact]
    public void WithoutConfiguration_DefaultIsInformation_AndFrameworkCategoriesWarning()
    {
        var (levels, _) = Bind([]);
        using var logger = LoggerOf(levels);

        Assert.Equal(LogEventLevel.Information, levels.Default.MinimumLevel);
        Assert.True(Enabled(logger, "Registry.Edge", LogEventLevel.Information));
        Assert.False(Enabled(logger, "Registry.Edge", LogEventLevel.Debug));
        Assert.False(Enabled(logger, "Microsoft.AspNetCore.Server.Kestrel", LogEventLevel.Information));
        Assert.True(Enabled(logger, "Microsoft.AspNetCore.Server.Kestrel", LogEventLevel.Warning));
        Assert.False(Enabled(logger, "Grpc.AspNetCore.Server", LogEventLevel.Information));
    }

    [Fact]
    public void DefaultAndOverrides_ComeFromTheSection_LongestPrefixWins()
    {
        var (levels, _) = Bind(new()
        {
            ["Serilog:MinimumLevel:Default"] = "warning",
            ["Serilog:MinimumLevel:Override:Registry"] = "Debug",
            ["Serilog:MinimumLevel:Override:Registry.Requests"] = "Error",
            ["Serilog:MinimumLevel:Override:Grpc"] = "Verbose",
        });
        using var logger = LoggerOf(levels);

        Assert.False(Enabled(logger, "Other", LogEventLevel.Information));
        Assert.True(Enabled(logger, "Other", LogEventLevel.Warning));
        Assert.True(Enabled(logger, "Registry.Blob.Uploads", LogEventLevel.Debug));
        Assert.False(Enabled(logger, "Registry.Requests", LogEventLevel.Warning));
        Assert.True(Enabled(logger, "Registry.Requests", LogEventLevel.Error));
        Assert.True(Enabled(logger, "Grpc.Net.Client", LogEventLevel.Verbose));
    }

    [Fact]
    public void OneLevelForTheWholeSection_IsTheDefault()
    {
        var (levels, _) = Bind(new() { ["Serilog:MinimumLevel"] = "Error" });

        Assert.Equal(LogEventLevel.Error, levels.Default.MinimumLevel);
    }

    [Theory]
    [InlineData("Serilog:MinimumLevel:Default", "Loud")]
    [InlineData("Serilog:MinimumLevel:Default", "3")]
    [InlineData("Serilog:MinimumLevel:Default", "Warning, Error")]
    [InlineData("Serilog:MinimumLevel:Override:Registry", "")]
    [InlineData("Serilog:MinimumLevel", "verbosely")]
    public void AnInvalidLevel_FailsAtStart_NamingTheEntry(string key, string value)
    {
        var error = Assert.Throws<InvalidOperationException>(() => Bind(new() { [key] = value }));

        Assert.Contains(key, error.Message, StringComparison.Ordinal);
        Assert.Contains($"'{value}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AReload_ChangesTheSwitches_InPlace()
    {
        var (levels, source) = Bind(new()
        {
            ["Serilog:MinimumLevel:Default"] = "Information",
            ["Serilog:MinimumLevel:Override:Registry.Requests"] = "Information",
        });
        using var logger = LoggerOf(levels);
        Assert.True(Enabled(logger, "Registry.Requests", LogEventLevel.Information));

        source.Set(new()
        {
            ["Serilog:MinimumLevel:Default"] = "Debug",
            ["Serilog:MinimumLevel:Override:Registry.Requests"] = "Warning",
            ["Serilog:MinimumLevel:Override:Microsoft.AspNetCore"] = "Information",
        });

        Assert.False(Enabled(logger, "Registry.Requests", LogEventLevel.Information));
        Assert.True(Enabled(logger, "Registry.Edge", LogEventLevel.Debug));
        Assert.True(Enabled(logger, "Microsoft.AspNetCore.Routing", LogEventLevel.Information));
    }

    [Fact]
    public void AReload_ThatRemovesAnEntry_GoesBackToItsSeedOrTheDefault()
    {
        var (levels, source) = Bind(new()
        {
            ["Serilog:MinimumLevel:Override:Registry.Requests"] = "Error",
            ["Serilog:MinimumLevel:Override:Grpc"] = "Debug",
        });

        source.Set(new() { ["Serilog:MinimumLevel:Default"] = "Debug" });

        Assert.Equal(LogEventLevel.Debug, levels.Override("Registry.Requests")!.MinimumLevel);
        Assert.Equal(LogEventLevel.Warning, levels.Override("Grpc")!.MinimumLevel);
    }

    [Fact]
    public void AReload_WithAnInvalidLevel_KeepsThatSwitch_AndAppliesTheRest()
    {
        var (levels, source) = Bind(new()
        {
            ["Serilog:MinimumLevel:Default"] = "Information",
            ["Serilog:MinimumLevel:Override:Registry.Requests"] = "Information",
        });

        source.Set(new()
        {
            ["Serilog:MinimumLevel:Default"] = "Nope",
            ["Serilog:MinimumLevel:Override:Registry.Requests"] = "Warning",
        });
        Assert.Equal(LogEventLevel.Information, levels.Default.MinimumLevel);
        Assert.Equal(LogEventLevel.Warning, levels.Override("Registry.Requests")!.MinimumLevel);

        source.Set(new()
        {
            ["Serilog:MinimumLevel:Default"] = "Error",
            ["Serilog:MinimumLevel:Override:Registry.Requests"] = "Nope",
        });
        Assert.Equal(LogEventLevel.Error, levels.Default.MinimumLevel);
        Assert.Equal(LogEventLevel.Warning, levels.Override("Registry.Requests")!.MinimumLevel);
    }

    [Fact]
    public void AReload_ThatSpellsACategoryInAnotherCase_ChangesThatCategory()
    {
        var (levels, source) = Bind(new() { ["Serilog:MinimumLevel:Override:Registry.Requests"] = "Warning" });
        using var logger = LoggerOf(levels);

        source.Set(new() { ["Serilog:MinimumLevel:Override:registry.requests"] = "Error" });

        Assert.Equal(LogEventLevel.Error, levels.Override("Registry.Requests")!.MinimumLevel);
        Assert.False(Enabled(logger, "Registry.Requests", LogEventLevel.Warning));
    }

    [Fact]
    public void AnEntryInAnotherCase_SetsTheSeededCategory()
    {
        var (levels, _) = Bind(new() { ["Serilog:MinimumLevel:Override:microsoft.aspnetcore"] = "Debug" });
        using var logger = LoggerOf(levels);

        Assert.True(Enabled(logger, "Microsoft.AspNetCore.Routing", LogEventLevel.Debug));
    }

    [Fact]
    public void ACategoryFirstNamedByAReload_IsIgnored()
    {
        var (levels, source) = Bind([]);

        source.Set(new() { ["Serilog:MinimumLevel:Override:Registry.Blob"] = "Debug" });

        Assert.Null(levels.Override("Registry.Blob"));
    }

    private static (LogLevels Levels, ReloadableSource Source) Bind(Dictionary<string, string?> values)
    {
        var source = new ReloadableSource(values);
        var configuration = new ConfigurationBuilder().Add(source).Build();
        return (LogLevels.Bind(configuration), source);
    }

    private static Logger LoggerOf(LogLevels levels) => levels.ApplyTo(new LoggerConfiguration()).CreateLogger();

    private static bool Enabled(Logger logger, string category, LogEventLevel level) =>
        logger.ForContext(Constants.SourceContextPropertyName, category).IsEnabled(level);

    /// <summary>An in-memory configuration whose values can be replaced, raising the reload token as a file change does.</summary>
    private sealed class ReloadableSource(Dictionary<string, string?> initial) : IConfigurationSource
    {
        private Provider? provider;

        public IConfigurationProvider Build(IConfigurationBuilder builder) => provider = new Provider(initial);

        public void Set(Dictionary<string, string?> values) => provider!.Replace(values);

        private sealed class Provider(Dictionary<string, string?> initial) : ConfigurationProvider
        {
            public override void Load() => Data = new Dictionary<string, string?>(initial, StringComparer.OrdinalIgnoreCase);

            public void Replace(Dictionary<string, string?> values)
            {
                Data = new Dictionary<string, string?>(values, StringComparer.OrdinalIgnoreCase);
                OnReload();
            }
        }
    }
}
