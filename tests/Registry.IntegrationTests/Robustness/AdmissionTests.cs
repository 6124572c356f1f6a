using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// A registry whose upload stage is full of stalled upload bodies answers further upload bodies with 429
/// TOOMANYREQUESTS and Retry-After (after the admission wait), keeps serving upload starts, blob reads
/// and requests that need no blob stage, keeps the uploads it admitted, and takes uploads again once
/// they finish.
/// </summary>
public sealed class AdmissionTests : IAsyncLifetime
{
    private readonly string _dataDir = TempDirectory.Create();
    private Registry.EdgeHttp.RegistryInstance _registry = null!;
    private OciClient _client = null!;

    public async Task InitializeAsync()
    {
        // One operation at a time per stage, and room for one more: a few stalled uploads fill it.
        _registry = await RegistryFixture.StartAsync(
            _dataDir,
            "--Registry:Edge:Pipeline:ControlParallelism=1",
            "--Registry:Edge:Pipeline:BlobParallelism=1",
            "--Registry:Edge:Pipeline:CapacityFactor=1",
            "--Registry:Edge:Pipeline:RetryAfterSeconds=7",
            // The stalled bodies must keep their places here however long the test takes (SlowBodyTests cut them off).
            "--Registry:Edge:Pipeline:SlowBodyBytesPerSecond=0");
        _client = new OciClient(_registry.Address);
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _registry.DisposeAsync();
        TempDirectory.Delete(_dataDir);
    }

    [Fact]
    public async Task FullPipeline_AnswersTooManyRequestsAtOnce_ThenRecovers()
    {
        var repo = OciClient.UniqueRepo("admission");
        var locations = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            locations.Add(await _client.StartUploadAsync(repo));
        }

        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var patches = new List<Task<HttpResponseMessage>>();
        HttpResponseMessage? refused = null;
        try
        {
            foreach (var location in locations)
            {
                patches.Add(_client.SendAsync(HttpMethod.Patch, location, new StallingContent(release.Task)));
                await Task.Delay(300);
            }

            // The stalled upload holds the upload stage; the next upload body must be refused quickly.
            var extra = await _client.StartUploadAsync(repo);
            var started = DateTime.UtcNow;
            refused = await _client.PatchAsync(extra, new byte[16], "0-15");
            var elapsed = DateTime.UtcNow - started;

            await OciAssert.ErrorAsync(refused, HttpStatusCode.TooManyRequests, "TOOMANYREQUESTS");
            Assert.Equal("7", OciAssert.Header(refused, "Retry-After"));
            Assert.True(elapsed < TimeSpan.FromSeconds(5), $"refusal took {elapsed}");

            // Requests that send no body (upload starts, blob reads) and those that need no blob stage
            // are not held up behind it.
            for (var i = 0; i < 3; i++)
            {
                Assert.False(string.IsNullOrEmpty(await _client.StartUploadAsync(repo)));
                using var other = await _client.GetAsync("/v2/");
                OciAssert.Status(other, HttpStatusCode.OK);
                using var missing = await _client.GetAsync($"/v2/{repo}/manifests/latest");
                await OciAssert.ErrorAsync(missing, HttpStatusCode.NotFound, "MANIFEST_UNKNOWN");
            }
        }
        finally
        {
            release.TrySetResult();
            refused?.Dispose();
        }

        var answers = await Task.WhenAll(patches).WaitAsync(Timeouts.Request);
        foreach (var answer in answers)
        {
            // Admitted uploads finish; those that arrived when it was full were refused, never half-done.
            Assert.Contains(answer.StatusCode, new[] { HttpStatusCode.Accepted, HttpStatusCode.TooManyRequests });
            answer.Dispose();
        }

        Assert.Contains(answers, answer => answer.StatusCode == HttpStatusCode.Accepted);
        using var again = await _client.GetAsync("/v2/");
        OciAssert.Status(again, HttpStatusCode.OK);
    }

    /// <summary>A request body that sends a few bytes at once (flushed, so the registry sees the request), then waits until released.</summary>
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
