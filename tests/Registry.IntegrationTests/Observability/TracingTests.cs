using System.Diagnostics;
using System.Net;
using OpenTelemetry.Trace;
using Registry.Hosting.Observability;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Observability;

/// <summary>A pull is one trace: the edge's HTTP span, its pipeline stages, its gRPC calls and the services' spans.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class TracingTests
{
    [Fact]
    public async Task Pull_IsOneTrace_AcrossEdgeAndServices()
    {
        var spans = new List<Activity>();
        var dataDir = TempDirectory.Create();
        RegistryTracing.Configure = tracing => tracing.AddInMemoryExporter(spans);
        try
        {
            await using var registry = await RegistryFixture.StartAsync(dataDir);
            using var client = new OciClient(registry.Address);
            var repo = OciClient.UniqueRepo("trace");
            var pushed = await client.PushImageAsync(repo, "v1");
            var paths = new[] { $"/v2/{repo}/blobs/{pushed.LayerDigest}", $"/v2/{repo}/manifests/{pushed.Digest}" };
            foreach (var path in paths)
            {
                using var response = await client.GetAsync(path);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            var traces = new List<ActivityTraceId>();
            foreach (var path in paths)
            {
                var root = await WaitForAsync(spans, s => s.Kind == ActivityKind.Server && Equals(s.GetTagItem("url.path"), path));
                var trace = Snapshot(spans).Where(s => s.TraceId == root.TraceId).ToList();
                Assert.Equal(default, root.ParentSpanId);

                // The pipeline's stages are children of the request.
                Assert.Contains(trace, s => s.DisplayName == "pipeline auth" && s.ParentSpanId == root.SpanId);

                // Each gRPC call the edge made is answered by a server span of the services, its child.
                var calls = trace.Where(s => s.Kind == ActivityKind.Client && s.GetTagItem("rpc.method") is string).ToList();
                Assert.NotEmpty(calls);
                foreach (var call in calls)
                {
                    var answer = await WaitForAsync(spans, s => s.Kind == ActivityKind.Server && s.ParentSpanId == call.SpanId);
                    Assert.Equal(root.TraceId, answer.TraceId);
                }

                traces.Add(root.TraceId);
            }

            // The upload that completed a blob reached storage inside its own trace (a pull reads the file the
            // blob service names, with no storage call to trace).
            var completion = await WaitForAsync(spans, s => s.Kind == ActivityKind.Server && Equals(s.GetTagItem("http.request.method"), "PUT")
                && s.GetTagItem("url.path") is string put && put.Contains("/blobs/uploads/", StringComparison.Ordinal));
            var commit = await WaitForAsync(spans, s => s.TraceId == completion.TraceId && s.DisplayName == "storage move");
            Assert.Equal("filesystem", commit.GetTagItem("storage.driver"));

            Assert.Equal(traces.Count, traces.Distinct().Count());
        }
        finally
        {
            RegistryTracing.Configure = null;
            TempDirectory.Delete(dataDir);
        }
    }

    private static List<Activity> Snapshot(List<Activity> spans)
    {
        lock (spans)
        {
            return [.. spans];
        }
    }

    // Spans are exported when they end, which may be just after the client has its answer.
    private static async Task<Activity> WaitForAsync(List<Activity> spans, Func<Activity, bool> match)
    {
        for (var i = 0; i < 50; i++)
        {
            var found = Snapshot(spans).FirstOrDefault(match);
            if (found is not null)
            {
                return found;
            }

            await Task.Delay(100);
        }

        throw new Xunit.Sdk.XunitException("no such span was exported: " + string.Join(", ", Snapshot(spans).Select(s => $"{s.Kind} {s.DisplayName}")));
    }
}
