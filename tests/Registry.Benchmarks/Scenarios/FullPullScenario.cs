using Registry.Benchmarks.Http;
using Registry.Benchmarks.Reporting;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// S4: concurrent pulls the way docker and containerd do them: GET /v2/, HEAD the tag for its digest, GET the
/// manifest by digest, GET the config, then the five layers three at a time on separate connections
/// (following a redirect to a direct download URL when the registry answers one).
/// </summary>
internal sealed class FullPullScenario : IScenario
{
    private const int LayerLanes = 3;

    public string Name => "s4";

    public IReadOnlyList<ScenarioCase> Cases(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return [new ScenarioCase("pull", options.StreamClients)];
    }

    public async Task<RunResult> RunAsync(ScenarioContext context, ScenarioCase scenarioCase, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var target = context.Target;
        var fixtures = context.Fixtures;
        var repository = Fixtures.ImageRepository;
        var accept = ("Accept", RawRequest.ManifestAccept);
        var baseRequest = RawRequest.Build("GET", "/v2/", target.Host);
        var headTag = RawRequest.Build("HEAD", $"/v2/{repository}/manifests/{Fixtures.ImageTag}", target.Host, -1, accept);
        var getConfig = RawRequest.Build("GET", $"/v2/{repository}/blobs/{fixtures.ConfigDigest}", target.Host);
        var getLayers = fixtures.LayerDigests
            .Select(d => RawRequest.Build("GET", $"/v2/{repository}/blobs/{d}", target.Host))
            .ToArray();
        var connections = Enumerable.Range(0, scenarioCase.Clients)
            .Select(_ => Enumerable.Range(0, LayerLanes)
                .Select(_ => new RedirectingConnection(new RawHttpConnection(target.EndPoint, 64 * 1024), 64 * 1024))
                .ToArray())
            .ToArray();
        var bytes = new ByteCounter();

        async ValueTask<string?> PullAsync(int worker, CancellationToken token)
        {
            var lanes = connections[worker];
            try
            {
                var main = lanes[0].Origin;
                var response = await main.SendAsync(baseRequest, default, false, false, null, token);
                if (response.Status is not (200 or 401))
                {
                    return "base_" + response.Status;
                }

                response = await main.SendAsync(headTag, default, true, true, null, token);
                var digest = response.ContentDigest;
                if (response.Status != 200 || digest is null)
                {
                    return "head_" + response.Status;
                }

                if (digest != fixtures.ManifestDigest)
                {
                    return "digest_mismatch";
                }

                var getManifest = RawRequest.Build("GET", $"/v2/{repository}/manifests/{digest}", target.Host, -1, accept);
                response = await main.SendAsync(getManifest, default, false, false, null, token);
                if (response.Status != 200 || response.BodyBytes != fixtures.Manifest.Length)
                {
                    return "manifest_" + response.Status;
                }

                response = await main.SendAsync(getConfig, default, false, false, null, token);
                if (response.Status != 200 || response.BodyBytes != fixtures.Config.Length)
                {
                    return "config_" + response.Status;
                }

                bytes.Add(response.BodyBytes);
                var next = -1;
                var errors = await Task.WhenAll(lanes.Select(async lane =>
                {
                    int index;
                    while ((index = Interlocked.Increment(ref next)) < getLayers.Length)
                    {
                        var layer = await lane.GetAsync(getLayers[index], null, token);
                        if (layer.Status != 200 || layer.BodyBytes != fixtures.Layers[index].Length)
                        {
                            return "layer_" + layer.Status;
                        }

                        bytes.Add(layer.BodyBytes);
                    }

                    return null;
                }));
                return errors.FirstOrDefault(e => e is not null);
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
            {
                foreach (var lane in lanes)
                {
                    lane.Close();
                }

                return ex.GetType().Name;
            }
        }

        try
        {
            var result = await Measurement.RunAsync(
                context, Name, scenarioCase.Variant, scenarioCase.Clients, context.Options.MaxOps, PullAsync, null, bytes,
                cancellationToken);
            result.Extra["mib_per_pull"] = fixtures.PullBytes / 1048576.0;
            return result;
        }
        finally
        {
            foreach (var connection in connections.SelectMany(c => c))
            {
                connection.Dispose();
            }
        }
    }
}
