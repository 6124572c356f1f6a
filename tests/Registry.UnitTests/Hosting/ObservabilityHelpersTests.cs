using System.Collections;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Registry.Hosting.Logging;
using Registry.Hosting.Observability;
using Serilog.Events;
using Serilog.Formatting.Compact;
using Serilog.Parsing;

namespace Registry.UnitTests.Hosting;

public sealed class ObservabilityHelpersTests
{
    [Theory]
    [InlineData("Bearer abc.def.ghi", "***")]
    [InlineData("basic dXNlcjpwYXNz", "***")]
    [InlineData("/v2/team/app/blobs/sha256:ab?X-Amz-Signature=s3cr3t&X-Amz-Expires=60", "/v2/team/app/blobs/sha256:ab?***")]
    [InlineData("https://bucket.example/key?sig=abc", "https://bucket.example/key?***")]
    [InlineData("/v2/team/app/manifests/latest", "/v2/team/app/manifests/latest")]
    [InlineData("is this a question?", "is this a question?")]
    [InlineData("http://alice:s3cret@127.0.0.1:18000", "http://***@127.0.0.1:18000")]
    [InlineData("http://bob:pw@127.0.0.1:1/base?token=q", "http://***@127.0.0.1:1/base?***")]
    [InlineData("mailto-like user@example.org stays", "mailto-like user@example.org stays")]
    [InlineData("/v2/a/manifests/x\r\n2026 FAKE line", "/v2/a/manifests/x\\r\\n2026 FAKE line")]
    public void Scrub_RemovesCredentialsAndQueries(string value, string expected)
    {
        Assert.Equal(expected, SecretRedactor.Scrub(value));
    }

    [Fact]
    public void Scrub_ReturnsTheSameInstance_WhenNothingIsSecret()
    {
        var value = "manifest_get team/app";
        Assert.Same(value, SecretRedactor.Scrub(value));
    }

    [Theory]
    [InlineData("header was 'Authorization: Bearer abc.def' at line 3", "header was 'Authorization: Bearer ***' at line 3")]
    [InlineData("GET https://bucket.example/key?X-Amz-Signature=s3cr3t failed", "GET https://bucket.example/key?*** failed")]
    [InlineData("plain failure? no", "plain failure? no")]
    public void ScrubInline_CutsOnlyTheCredential(string value, string expected)
    {
        Assert.Equal(expected, SecretRedactor.ScrubInline(value));
    }

    [Fact]
    public void ScrubValue_ReachesIntoStructuresSequencesAndDictionaries()
    {
        var nested = new StructureValue(
        [
            new LogEventProperty("Path", new ScalarValue("/v2/a/blobs/x")),
            new LogEventProperty("Headers", new DictionaryValue(
            [
                new(new ScalarValue("Authorization"), new ScalarValue("Basic dXNlcjpwYXNz")),
                new(new ScalarValue("Accept"), new ScalarValue("application/json")),
            ])),
            new LogEventProperty("Urls", new SequenceValue([new ScalarValue("https://b.example/k?sig=abc")])),
        ]);

        var text = SecretRedactor.ScrubValue("Request", nested).ToString();

        Assert.DoesNotContain("dXNlcjpwYXNz", text, StringComparison.Ordinal);
        Assert.DoesNotContain("sig=abc", text, StringComparison.Ordinal);
        Assert.Contains("/v2/a/blobs/x", text, StringComparison.Ordinal);
        Assert.Contains("application/json", text, StringComparison.Ordinal);
        var clean = new StructureValue([new LogEventProperty("Path", new ScalarValue("/v2/a"))]);
        Assert.Same(clean, SecretRedactor.ScrubValue("Request", clean));
    }

    [Fact]
    public void ScrubbingFormatter_WritesTheExceptionWithoutItsCredential()
    {
        Exception thrown;
        try
        {
            throw new InvalidOperationException("upstream refused 'Bearer eyJhbGciOi.secret' for https://b.example/k?sig=abc");
        }
        catch (InvalidOperationException ex)
        {
            thrown = ex;
        }

        var logEvent = new LogEvent(
            DateTimeOffset.UtcNow,
            LogEventLevel.Error,
            thrown,
            new MessageTemplateParser().Parse("call failed"),
            []);
        using var output = new StringWriter();
        new ScrubbingFormatter(new RenderedCompactJsonFormatter()).Format(logEvent, output);
        var line = output.ToString();

        Assert.DoesNotContain("eyJhbGciOi", line, StringComparison.Ordinal);
        Assert.DoesNotContain("sig=abc", line, StringComparison.Ordinal);
        Assert.Contains("upstream refused", line, StringComparison.Ordinal);
        Assert.Contains(nameof(ScrubbingFormatter_WritesTheExceptionWithoutItsCredential), line, StringComparison.Ordinal);
    }

    [Fact]
    public void PrometheusName_FollowsTheDocumentedRules()
    {
        using var meter = new Meter("Registry.UnitTests");
        Assert.Equal("registry_edge_cancellation_duration_seconds",
            MeterBridge.PrometheusName(meter.CreateHistogram<double>("registry.edge.cancellation.duration", unit: "s")));
        Assert.Equal("registry_edge_cancellation_stop_duration_seconds",
            MeterBridge.PrometheusName(meter.CreateHistogram<double>("registry.edge.cancellation.stop.duration", unit: "s")));
        Assert.Equal("registry_edge_requests_aborted_total",
            MeterBridge.PrometheusName(meter.CreateCounter<long>("registry.edge.requests.aborted")));
        Assert.Equal("registry_cancellation_duration_seconds",
            MeterBridge.PrometheusName(meter.CreateHistogram<double>("cancellation.duration", unit: "s")));
        Assert.Equal("registry_requests_cancelled_total",
            MeterBridge.PrometheusName(meter.CreateCounter<long>("requests.cancelled")));
        Assert.Equal("registry_buffer_bytes",
            MeterBridge.PrometheusName(meter.CreateUpDownCounter<long>("buffer", unit: "By")));
    }

    [Fact]
    public void EffectiveSettings_RedactSecretLookingKeys()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Registry:DataDir"] = "/srv/registry",
            ["Registry:Admin:Token"] = "do-not-print-me-123456",
            ["Registry:Storage:S3:SecretAccessKey"] = "also-secret",
            ["Registry:Auth:Password"] = string.Empty,
            ["Other:Token"] = "outside the section",
        }).Build();

        var settings = StartupReport.EffectiveSettings(configuration);

        Assert.Equal("/srv/registry", settings["Registry:DataDir"]);
        Assert.Equal("***", settings["Registry:Admin:Token"]);
        Assert.Equal("***", settings["Registry:Storage:S3:SecretAccessKey"]);
        Assert.Equal(string.Empty, settings["Registry:Auth:Password"]);
        Assert.False(settings.ContainsKey("Other:Token"));
    }

    [Fact]
    public void IgnoredNativeGcVariables_NameWhatTheNativeRuntimeDrops()
    {
        var environment = new Hashtable
        {
            ["DOTNET_GCHeapHardLimit"] = "0x20000000",
            ["DOTNET_GCHeapHardLimitPercent"] = "32",
            ["DOTNET_GCgen0size"] = "200000",
            ["DOTNET_gcServer"] = " 1",
            ["DOTNET_GCHeapCount"] = "+2",
            ["DOTNET_GCConserveMemory"] = "",
            ["DOTNET_GCRegionSize"] = "1FFFFFFFFFFFFFFFF",
            ["DOTNET_GCgen1size"] = "ffffffffffffffff",
            ["COMPlus_GCgen0size"] = "200000",
            ["DOTNET_TieredPGO"] = "0x0",
            ["dotnet_gcServer"] = "0x1",
            ["PATH"] = "/usr/bin",
        };

        var ignored = StartupReport.IgnoredNativeGcVariables(environment);

        Assert.Equal(
            [
                "COMPlus_GCgen0size=200000", "DOTNET_GCConserveMemory=", "DOTNET_GCHeapCount=+2",
                "DOTNET_GCHeapHardLimit=0x20000000", "DOTNET_GCRegionSize=1FFFFFFFFFFFFFFFF", "DOTNET_gcServer= 1",
            ],
            ignored.Select(entry => entry.Variable));
        Assert.Contains("only DOTNET_", ignored[0].Reason, StringComparison.Ordinal);
        Assert.All(ignored.Skip(1), entry => Assert.Contains("without 0x", entry.Reason, StringComparison.Ordinal));
    }
}
