using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Registry.Hosting.Logging;
using Registry.Hosting.Observability;

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
}
