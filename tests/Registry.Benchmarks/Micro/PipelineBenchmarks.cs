using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Registry.EdgeHttp;
using Registry.EdgeHttp.Caching;
using Registry.EdgeHttp.Clients;
using Registry.EdgeHttp.Http;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Hosting;
using Registry.Protos;

namespace Registry.Benchmarks.Micro;

/// <summary>
/// One operation through the request pipeline (auth with a cached decision → manifest → assemble), with
/// stage work that does nothing: what the Dataflow hand-offs themselves cost in time and allocations.
/// </summary>
[MemoryDiagnoser]
public class PipelineBenchmarks
{
    private RequestPipeline _pipeline = null!;

    [GlobalSetup]
    public void Setup()
    {
        var options = Options.Create(new EdgeOptions());

        // No service listens at these addresses: the auth decision comes from the cache and the stages do no calls.
        var addresses = Options.Create(new ServiceAddresses { Auth = "http://127.0.0.1:9", Manifest = "http://127.0.0.1:9", Blob = "http://127.0.0.1:9" });
        var clients = new ServiceClients(addresses, options, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        var decisions = new AuthDecisionCache(options, TimeProvider.System);
        decisions.Set(decisions.KeyFor(string.Empty, null)!.Value, new AuthorizeResponse { Allowed = true });
        var edge = new EdgeContext(clients, new Locations(options), new ManifestReader(clients, new ManifestCache(options), options), decisions, options);
        _pipeline = new RequestPipeline(edge, options, NullLogger<RequestPipeline>.Instance);
    }

    [GlobalCleanup]
    public async Task Cleanup() => await _pipeline.DisposeAsync();

    [Benchmark(Description = "One pass: auth (cached) -> manifest -> assemble")]
    public async Task OnePass()
    {
        var operation = new NoOpOperation();
        if (!_pipeline.TryEnter(operation))
        {
            throw new InvalidOperationException("the pipeline refused a lone operation");
        }

        await operation.Completion;
    }

    private sealed class NoOpOperation : OciOperation
    {
        private static readonly OciRoute BenchRoute = new(OciRouteKind.Manifest, "bench/img", "v1");

        public NoOpOperation()
            : base(new DefaultHttpContext(), BenchRoute)
        {
        }

        public override ScopeDemand? Scope => null;

        public override bool UsesManifestStage => true;

        public override Task RunManifestStageAsync(EdgeContext edge, CancellationToken cancellationToken) => Task.CompletedTask;

        public override void Assemble(EdgeContext edge)
        {
        }
    }
}
