using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// Upload bodies that trickle in keep their places while nobody waits, and are cut off with 408 once
/// other requests find the upload stage full, so a few slow senders cannot stop every push; the cut
/// upload's session stays usable. (curl, which reads the answer while it sends, gets the 408.)
/// </summary>
[Collection(Observability.ObservabilityCollection.Name)]
public sealed class SlowBodyTests : IAsyncLifetime
{
    private const string CutTotal = "registry_pipeline_slow_bodies_cut_total";

    private OwnRegistry _registry = null!;

    // Two upload places, rates measured over one second, slow = under 4 KiB/s.
    public async Task InitializeAsync() => _registry = await OwnRegistry.StartAsync(
        "--Registry:Edge:Pipeline:BlobParallelism=2",
        "--Registry:Edge:Pipeline:SlowBodySeconds=1",
        "--Registry:Edge:Pipeline:SlowBodyBytesPerSecond=4096");

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    [Fact]
    public async Task TricklingBodies_KeepTheirPlacesWhileNobodyWaits_AndAreCutOffWithA408WhenOthersDo()
    {
        var client = _registry.Client;
        var repo = OciClient.UniqueRepo("slowbody");
        var cutBefore = (await MetricsScrape.TakeAsync(client.Http)).Value(CutTotal);
        using var stop = new CancellationTokenSource(Timeouts.Request);

        // Two bodies at about 1 KiB/s fill both upload places.
        var slowLocations = new List<string>();
        var slow = new List<Task<HttpResponseMessage>>();
        for (var i = 0; i < 2; i++)
        {
            var location = await client.StartUploadAsync(repo);
            slowLocations.Add(location);
            slow.Add(client.SendAsync(HttpMethod.Patch, location, new TricklingContent(stop.Token)));
        }

        // Nobody waits: after three windows they are still being received.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.All(slow, task => Assert.False(task.IsCompleted));
        Assert.Equal(cutBefore, (await MetricsScrape.TakeAsync(client.Http)).Value(CutTotal));

        // A push arrives: refused at first (the stage is full), it gets a place once the slow bodies are cut off.
        var data = OciClient.RandomBytes(64 * 1024);
        var fast = await client.StartUploadAsync(repo);
        var statuses = new List<HttpStatusCode>();
        for (var attempt = 0; attempt < 50; attempt++)
        {
            using var patch = await client.PatchAsync(fast, data, $"0-{data.Length - 1}");
            statuses.Add(patch.StatusCode);
            if (patch.StatusCode == HttpStatusCode.Accepted)
            {
                fast = OciAssert.Location(patch, $"/v2/{repo}/blobs/uploads/");
                break;
            }

            Assert.Equal(HttpStatusCode.TooManyRequests, patch.StatusCode);
            await Task.Delay(200);
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[0]);
        Assert.Equal(HttpStatusCode.Accepted, statuses[^1]);
        using (var put = await client.PutUploadAsync(fast, Digests.Sha256(data)))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        // The slow senders are answered 408 with an OCI error and the connection closes. A client that
        // reads no answer before its body is sent (HttpClient over HTTP/1.1) sees the connection end instead.
        foreach (var task in slow)
        {
            try
            {
                using var answer = await task.WaitAsync(Timeouts.Request);
                await OciAssert.ErrorAsync(answer, HttpStatusCode.RequestTimeout, "BLOB_UPLOAD_INVALID");
            }
            catch (HttpRequestException ex) when (ex.InnerException is IOException)
            {
            }
        }

        Assert.Equal(cutBefore + 2, (await MetricsScrape.TakeAsync(client.Http)).Value(CutTotal));
        await stop.CancelAsync();
        foreach (var location in slowLocations)
        {
            using var status = await client.GetAsync(location);
            OciAssert.Status(status, HttpStatusCode.NoContent);
            var range = OciAssert.Header(status, "Range")!;
            var end = long.Parse(range[(range.IndexOf('-', StringComparison.Ordinal) + 1)..], CultureInfo.InvariantCulture);
            var stored = end == 0 ? 0 : end + 1;
            var rest = new byte[1024];
            var next = await client.PatchAcceptedAsync(repo, location, rest, $"{stored}-{stored + rest.Length - 1}");
            Assert.False(string.IsNullOrEmpty(next));
        }
    }

    /// <summary>64 bytes every 60 ms, each flushed so the registry sees them, until stopped (at most the test's time limit).</summary>
    private sealed class TricklingContent : HttpContent
    {
        private readonly CancellationToken _stop;

        public TricklingContent(CancellationToken stop)
        {
            _stop = stop;
            Headers.ContentType = new MediaTypeHeaderValue(OciClient.OctetStream);
        }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            var bytes = new byte[64];
            Array.Fill(bytes, (byte)7);
            while (!_stop.IsCancellationRequested)
            {
                await stream.WriteAsync(bytes, _stop);
                await stream.FlushAsync(_stop);
                await Task.Delay(60, _stop);
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
