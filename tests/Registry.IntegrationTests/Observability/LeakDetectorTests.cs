using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Observability;

/// <summary>
/// The leak detector of a running registry: silent through a normal load, and reporting (metric and
/// warning with the oldest requests) when requests pile up and never finish.
/// </summary>
[Collection(ObservabilityCollection.Name)]
public sealed class LeakDetectorTests
{
    private const string Suspected = "registry_leak_suspected{signal=\"http_in_flight\"}";

    [Fact]
    public async Task StuckRequests_AreReported_NormalLoadIsNot()
    {
        var dataDir = TempDirectory.Create();
        var logFile = Path.Combine(dataDir, "registry.log");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stuck = new List<Task<HttpResponseMessage>>();
        try
        {
            await using var registry = await RegistryFixture.StartAsync(
                dataDir,
                $"--Registry:Logging:File={logFile}",
                "--Registry:LeakDetector:Interval=00:00:00.100",
                "--Registry:LeakDetector:ConsecutiveSamples=3",
                "--Registry:LeakDetector:MinimumIncrease:http_in_flight=4");
            using var client = new OciClient(registry.Address);
            var repo = OciClient.UniqueRepo("leak");

            // Normal load: requests come and go for a couple of seconds.
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(2);
            var parallel = new List<Task>();
            for (var worker = 0; worker < 3; worker++)
            {
                parallel.Add(Task.Run(async () =>
                {
                    for (var i = 0; i < 500 && DateTime.UtcNow < until; i++)
                    {
                        using var response = await client.GetAsync($"/v2/{repo}/tags/list");
                        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
                    }
                }));
            }

            await Task.WhenAll(parallel).WaitAsync(Timeouts.Request);
            Assert.Equal(0, (await MetricsScrape.TakeAsync(client.Http)).Value(Suspected));

            // The leak: uploads whose bodies never end hold their requests in flight.
            for (var i = 0; i < 10; i++)
            {
                var location = await client.StartUploadAsync(repo);
                stuck.Add(client.SendAsync(HttpMethod.Patch, location, new StallingContent(release.Task)));
            }

            var reported = false;
            for (var i = 0; i < 100 && !reported; i++)
            {
                await Task.Delay(100);
                reported = (await MetricsScrape.TakeAsync(client.Http)).Value(Suspected) == 1;
            }

            Assert.True(reported, "the detector did not report ten requests stuck in flight");
            var log = await ReadSharedAsync(logFile);
            var warning = Assert.Single(log.Split('\n'), line => line.Contains("\"LeakSuspected\"", StringComparison.Ordinal)
                && line.Contains("http_in_flight", StringComparison.Ordinal));
            Assert.Contains("upload_patch", warning, StringComparison.Ordinal);

            // Released, the requests finish and the report clears.
            release.TrySetResult();
            foreach (var response in await Task.WhenAll(stuck).WaitAsync(Timeouts.Request))
            {
                response.Dispose();
            }

            var cleared = false;
            for (var i = 0; i < 100 && !cleared; i++)
            {
                await Task.Delay(100);
                cleared = (await MetricsScrape.TakeAsync(client.Http)).Value(Suspected) == 0;
            }

            Assert.True(cleared, "the report did not clear once the requests finished");
        }
        finally
        {
            release.TrySetResult();
            TempDirectory.Delete(dataDir);
        }
    }

    [Fact]
    public async Task OneStuckControlRequest_OnAQuietEdge_IsReported_ALongDownloadIsNot()
    {
        const string StuckSuspected = "registry_leak_suspected{signal=\"http_stuck_requests\"}";
        var dataDir = TempDirectory.Create();
        var logFile = Path.Combine(dataDir, "registry.log");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            await using var registry = await RegistryFixture.StartAsync(
                dataDir,
                $"--Registry:Logging:File={logFile}",
                "--Registry:Edge:StuckRequestAfter=00:00:01",
                "--Registry:LeakDetector:Interval=00:00:00.100",
                "--Registry:LeakDetector:ConsecutiveSamples=3");
            using var client = new OciClient(registry.Address);
            var repo = OciClient.UniqueRepo("stuck");

            // A transfer may take long: an upload body held open for three seconds is not stuck.
            var location = await client.StartUploadAsync(repo);
            var longUpload = client.SendAsync(HttpMethod.Patch, location, new StallingContent(Task.Delay(3000)));
            await Task.Delay(3000);
            Assert.Equal(0, (await MetricsScrape.TakeAsync(client.Http)).Value(StuckSuspected));
            (await longUpload.WaitAsync(Timeouts.Request)).Dispose();

            // One manifest push whose body never ends: a control request, stuck.
            var stuck = client.SendAsync(HttpMethod.Put, $"/v2/{repo}/manifests/v1", new StallingContent(release.Task));
            var reported = false;
            for (var i = 0; i < 100 && !reported; i++)
            {
                await Task.Delay(100);
                reported = (await MetricsScrape.TakeAsync(client.Http)).Value(StuckSuspected) == 1;
            }

            Assert.True(reported, "the detector did not report one control request stuck for over a second");
            var log = await ReadSharedAsync(logFile);
            var warning = Assert.Single(log.Split('\n'), line => line.Contains("\"LeakSuspected\"", StringComparison.Ordinal)
                && line.Contains("http_stuck_requests", StringComparison.Ordinal));
            Assert.Contains("manifest_put", warning, StringComparison.Ordinal);

            release.TrySetResult();
            (await stuck.WaitAsync(Timeouts.Request)).Dispose();
        }
        finally
        {
            release.TrySetResult();
            TempDirectory.Delete(dataDir);
        }
    }

    private static async Task<string> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    /// <summary>A request body that sends a few bytes at once, then waits until released.</summary>
    private sealed class StallingContent(Task release) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            var bytes = new byte[16];
            await stream.WriteAsync(bytes);
            await stream.FlushAsync();
            await release.WaitAsync(Timeouts.Request);
            await stream.WriteAsync(bytes);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
