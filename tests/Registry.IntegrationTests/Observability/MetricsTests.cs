using System.Diagnostics.Metrics;
using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Observability;

/// <summary>/metrics on the all-in-one registry: series exist and move by what real requests did.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class MetricsTests : IClassFixture<RegistryFixture>
{
    private readonly RegistryFixture _registry;

    public MetricsTests(RegistryFixture registry)
    {
        _registry = registry;
    }

    private OciClient Client => _registry.Client;

    [Fact]
    public async Task PushAndPull_MoveRequestPullPushAndByteSeries()
    {
        var repo = OciClient.UniqueRepo("metrics");
        var before = await MetricsScrape.TakeAsync(Client.Http);

        var pushed = await Client.PushImageAsync(repo, "v1");
        using (var pull = await Client.GetAsync($"/v2/{repo}/manifests/v1", r => r.Headers.Accept.ParseAdd(pushed.MediaType)))
        {
            Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
        }

        using (var head = await Client.HeadAsync($"/v2/{repo}/manifests/v1"))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        }

        using (var layer = await Client.GetAsync($"/v2/{repo}/blobs/{pushed.LayerDigest}"))
        {
            Assert.Equal(HttpStatusCode.OK, layer.StatusCode);
        }

        using (var missing = await Client.GetAsync($"/v2/{repo}/manifests/absent"))
        {
            Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        }

        var after = await MetricsScrape.TakeAsync(Client.Http);
        Assert.Equal(1, after.Delta(before, "registry_pushes_total"));
        Assert.Equal(1, after.Delta(before, "registry_pulls_total"));
        Assert.Equal(1, after.Delta(before, Requests("manifest_put", "2xx")));
        Assert.Equal(1, after.Delta(before, Requests("manifest_get", "2xx")));
        Assert.Equal(1, after.Delta(before, Requests("manifest_get", "4xx")));
        Assert.Equal(1, after.Delta(before, Requests("manifest_head", "2xx")));
        Assert.Equal(1, after.Delta(before, Requests("blob_get", "2xx")));
        Assert.Equal(1, after.Delta(before, "registry_http_request_duration_seconds_count{operation=\"manifest_get\",status_class=\"2xx\"}"));
        Assert.True(after.Delta(before, "registry_http_request_duration_seconds_sum{operation=\"manifest_get\",status_class=\"2xx\"}") > 0);
        Assert.Equal(pushed.Body.Length, after.Delta(before, "registry_http_request_bytes_total{operation=\"manifest_put\"}"));
        Assert.True(after.Delta(before, "registry_http_response_bytes_total{operation=\"blob_get\"}") >= pushed.Layer.Length);

        // Every request went through the pipeline and across gRPC, on both sides.
        Assert.True(after.Delta(before, "registry_pipeline_stage_duration_seconds_count{stage=\"auth\"}") >= 5);
        Assert.True(after.Delta(before, "registry_pipeline_stage_duration_seconds_count{stage=\"manifest\"}") >= 1);
        Assert.True(after.Sum("registry_grpc_server_calls_total") > before.Sum("registry_grpc_server_calls_total"));
        Assert.True(after.Sum("registry_grpc_client_calls_total") > before.Sum("registry_grpc_client_calls_total"));
        Assert.True(after.Delta(before, "registry_grpc_server_calls_total{method=\"/registry.v1.Manifests/PutManifest\",code=\"OK\"}") >= 1);

        // The blob service's storage calls are timed by driver and operation.
        Assert.True(after.Delta(before, "registry_storage_operation_duration_seconds_count{driver=\"filesystem\",operation=\"commit\"}") >= 2);
        Assert.True(after.Delta(before, "registry_storage_operation_duration_seconds_count{driver=\"filesystem\",operation=\"move\"}") >= 2);
        Assert.True(after.Samples.ContainsKey("registry_storage_errors_total{driver=\"filesystem\",operation=\"open_read\"}"));

        // Labels name operations, never repositories or digests.
        Assert.DoesNotContain(repo, after.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(pushed.LayerDigest, after.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AbandonedRequest_IsCountedAsCancelled_AndTheEdgeMeterIsExported()
    {
        var repo = OciClient.UniqueRepo("metrics-abort");
        var location = await Client.StartUploadAsync(repo);
        var before = await MetricsScrape.TakeAsync(Client.Http);
        await AbortedRequests.AbandonedPatchAsync(_registry.Address, location);

        // The edge notices the hang-up on its own schedule: poll, bounded.
        var after = before;
        for (var i = 0; i < 100 && after.Delta(before, Requests("upload_patch", "cancelled")) < 1; i++)
        {
            await Task.Delay(100);
            after = await MetricsScrape.TakeAsync(Client.Http);
        }

        Assert.Equal(1, after.Delta(before, Requests("upload_patch", "cancelled")));
        Assert.Equal(1, after.Delta(before, "registry_edge_requests_aborted_total{operation=\"Upload\"}"));
        Assert.Equal(1, after.Delta(before, "registry_edge_cancellation_stop_duration_seconds_count{operation=\"Upload\"}"));
        Assert.True(after.Samples.ContainsKey("registry_edge_cancellation_stop_duration_seconds_bucket{operation=\"Upload\",le=\"0.1\"}"));
    }

    [Fact]
    public async Task UploadSessions_OpenGaugeFollowsStartAndCancel()
    {
        var repo = OciClient.UniqueRepo("metrics-upload");
        var before = await MetricsScrape.TakeAsync(Client.Http);
        var location = await Client.StartUploadAsync(repo);
        var during = await MetricsScrape.TakeAsync(Client.Http);
        using (var cancel = await Client.DeleteAsync(location))
        {
            Assert.Equal(HttpStatusCode.NoContent, cancel.StatusCode);
        }

        var after = await MetricsScrape.TakeAsync(Client.Http);
        Assert.Equal(1, during.Delta(before, "registry_upload_sessions_open"));
        Assert.Equal(0, after.Delta(before, "registry_upload_sessions_open"));
        Assert.True(during.Samples.ContainsKey("registry_upload_sessions_oldest_idle_seconds"));
    }

    [Fact]
    public async Task PipelineAndRuntimeSeries_AreExported()
    {
        var scrape = await MetricsScrape.TakeAsync(Client.Http);
        foreach (var stage in new[] { "auth", "manifest", "blob", "assemble" })
        {
            Assert.True(scrape.Value($"registry_pipeline_capacity{{stage=\"{stage}\"}}") > 0, stage);
            Assert.True(scrape.Samples.ContainsKey($"registry_pipeline_queue_length{{stage=\"{stage}\"}}"), stage);
            Assert.True(scrape.Samples.ContainsKey($"registry_pipeline_in_flight{{stage=\"{stage}\"}}"), stage);
        }

        string[] runtime =
        [
            "registry_gc_collections_total", "registry_gc_pause_time_seconds_total", "registry_gc_heap_size_bytes",
            "registry_gc_heap_fragmented_bytes", "registry_gc_heap_committed_bytes", "registry_gc_heap_limit_bytes",
            "registry_gc_allocated_bytes_total", "registry_threadpool_threads", "registry_threadpool_queue_length",
            "registry_lock_contentions_total", "registry_exceptions_total", "registry_process_working_set_bytes",
            "registry_http_requests_in_flight", "registry_admission_rejections_total", "process_cpu_seconds_total",
        ];
        foreach (var name in runtime)
        {
            Assert.True(scrape.Has(name), name);
        }

        Assert.True(scrape.Value("registry_gc_heap_limit_bytes") > 0);
        Assert.True(scrape.Value("registry_process_working_set_bytes") > 0);
        Assert.True(scrape.Value("registry_threadpool_threads") > 0);

        // Kestrel's listeners take their I/O buffers from the bounded pool (this scrape's own request needed some),
        // counted by block size.
        Assert.True(scrape.Sum("registry_buffer_pool_allocated_bytes_total") > 0);
        Assert.Contains(scrape.Samples, sample =>
            sample.Key.StartsWith("registry_buffer_pool_allocated_bytes_total{block_bytes=\"", StringComparison.Ordinal) && sample.Value > 0);
    }

    [Fact]
    public async Task GcPauses_AreObservedInTheHistogram_InducedOnesApart()
    {
        var before = await MetricsScrape.TakeAsync(Client.Http);

        // Collections the allocator triggers: a bounded burst of short-lived arrays.
        long kept = 0;
        for (var i = 0; i < 20_000; i++)
        {
            kept += new byte[16 * 1024].Length;
        }

        Assert.True(kept > 0);
        GC.Collect(2, GCCollectionMode.Forced, blocking: true);

        // The idle trim's kind of collection counts as induced too.
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);

        // Runtime events reach the listener asynchronously: poll, bounded.
        MetricsScrape after = before;
        for (var i = 0; i < 50 && (after.Delta(before, "registry_gc_pause_seconds_count") < 1
            || after.Delta(before, "registry_gc_suspension_seconds_count") < 1
            || after.Delta(before, "registry_gc_induced_pause_seconds_count") < 2); i++)
        {
            await Task.Delay(100);
            after = await MetricsScrape.TakeAsync(Client.Http);
        }

        Assert.True(after.Delta(before, "registry_gc_pause_seconds_count") >= 1);
        Assert.True(after.Delta(before, "registry_gc_pause_seconds_sum") > 0);
        Assert.True(after.Samples.ContainsKey("registry_gc_pause_seconds_bucket{le=\"0.001\"}"));
        // Every uninduced pause also says how long stopping the threads took (a scrape may land between the
        // two observations of one pause, hence the one either way).
        var suspensions = after.Delta(before, "registry_gc_suspension_seconds_count");
        var pauses = after.Delta(before, "registry_gc_pause_seconds_count");
        Assert.True(suspensions >= 1);
        Assert.InRange(suspensions, pauses - 1, pauses + 1);
        Assert.True(after.Delta(before, "registry_gc_induced_pause_seconds_count") >= 2);
        Assert.True(after.Delta(before, "registry_gc_collections_total{generation=\"2\"}") >= 1);
    }

    [Fact]
    public async Task RegistryMeters_AreExported_OthersAreNot()
    {
        using var registryMeter = new Meter("Registry.IntegrationTests");
        using var otherMeter = new Meter("Other.IntegrationTests");
        var histogram = registryMeter.CreateHistogram<double>("cancellation.duration", unit: "s");
        var other = otherMeter.CreateCounter<long>("other.test.requests");
        histogram.Record(0.25, new KeyValuePair<string, object?>("stage", "blob"));
        other.Add(1);

        var scrape = await MetricsScrape.TakeAsync(Client.Http);

        // The exported name is the instrument's, with "registry_" in front and the unit behind.
        Assert.Equal(1, scrape.Value("registry_cancellation_duration_seconds_count{stage=\"blob\"}"));
        Assert.Equal(0.25, scrape.Value("registry_cancellation_duration_seconds_sum{stage=\"blob\"}"));
        Assert.DoesNotContain("other_test", scrape.Text, StringComparison.Ordinal);
    }

    private static string Requests(string operation, string statusClass) =>
        $"registry_http_requests_total{{operation=\"{operation}\",status_class=\"{statusClass}\"}}";
}
