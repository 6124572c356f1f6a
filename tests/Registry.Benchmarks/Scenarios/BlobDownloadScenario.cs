using System.Security.Cryptography;
using Registry.Benchmarks.Http;
using Registry.Benchmarks.Reporting;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// S2: clients GET the 32 MiB blob in a loop, following a redirect to a direct download URL when the
/// registry answers one; the first download is verified by digest, the rest counted.
/// </summary>
internal sealed class BlobDownloadScenario : IScenario
{
    public string Name => "s2";

    public IReadOnlyList<ScenarioCase> Cases(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return [new ScenarioCase("GET-32MiB", options.StreamClients)];
    }

    public async Task<RunResult> RunAsync(ScenarioContext context, ScenarioCase scenarioCase, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var fixtures = context.Fixtures;
        var request = RawRequest.Build("GET", $"/v2/{Fixtures.BigRepository}/blobs/{fixtures.BigDigest}", context.Target.Host);
        var connections = Enumerable.Range(0, scenarioCase.Clients)
            .Select(_ => new RedirectingConnection(new RawHttpConnection(context.Target.EndPoint, 256 * 1024), 256 * 1024))
            .ToArray();
        var bytes = new ByteCounter();
        var verified = 0;
        try
        {
            async ValueTask<string?> GetAsync(int worker, CancellationToken token)
            {
                var connection = connections[worker];
                using var hash = Interlocked.Exchange(ref verified, 1) == 0
                    ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256)
                    : null;
                try
                {
                    var response = await connection.GetAsync(request, hash, token);
                    bytes.Add(response.BodyBytes);
                    if (response.Status != 200)
                    {
                        return "status_" + response.Status;
                    }

                    if (response.BodyBytes != fixtures.Big.Length)
                    {
                        return "short_body";
                    }

                    if (hash is not null && "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset()) != fixtures.BigDigest)
                    {
                        return "digest_mismatch";
                    }

                    return null;
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
                {
                    connection.Close();
                    return ex.GetType().Name;
                }
            }

            return await Measurement.RunAsync(
                context, Name, scenarioCase.Variant, scenarioCase.Clients, context.Options.MaxOps, GetAsync, null, bytes,
                cancellationToken);
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection.Dispose();
            }
        }
    }
}
