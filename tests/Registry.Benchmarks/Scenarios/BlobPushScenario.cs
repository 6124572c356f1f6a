using Registry.Benchmarks.Reporting;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// S3: clients push fresh 1 MiB blobs, "mono" (POST, then PUT ?digest= with the body) or "chunked" (POST,
/// four PATCHes with Content-Range, empty PUT ?digest=). Each blob is made unique before its timer starts,
/// cheaply (<see cref="UniqueBlobs"/>: a shared prefix's saved hash plus a 16-byte tail), so the load
/// generator, which shares the cores with the registry, does not spend half a millisecond hashing every blob.
/// </summary>
internal sealed class BlobPushScenario : IScenario
{
    private const int BlobSize = 1024 * 1024;
    private const int Chunks = 4;
    private const string Repository = "bench/push";

    public string Name => "s3";

    public IReadOnlyList<ScenarioCase> Cases(BenchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return [new ScenarioCase("mono", options.StreamClients), new ScenarioCase("chunked", options.StreamClients)];
    }

    public async Task<RunResult> RunAsync(ScenarioContext context, ScenarioCase scenarioCase, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var clients = scenarioCase.Clients;
        var chunked = scenarioCase.Variant == "chunked";

        // Every run gets its own nonce (inside UniqueBlobs), so no blob is ever one the registry has seen.
        using var unique = new UniqueBlobs(BlobSize);
        var blobs = new byte[clients][];
        var digests = new string[clients];
        var pushers = new OciClient[clients];
        for (var i = 0; i < clients; i++)
        {
            blobs[i] = unique.NewBuffer();
            pushers[i] = new OciClient(context.Target);
            digests[i] = string.Empty;
        }

        void Prepare(int worker)
        {
            var sequence = unique.Next();
            unique.Fill(blobs[worker], sequence);
            digests[worker] = unique.DigestOf(sequence);
        }

        var bytes = new ByteCounter();
        async ValueTask<string?> PushAsync(int worker, CancellationToken token)
        {
            var pusher = pushers[worker];
            try
            {
                var error = chunked
                    ? await pusher.PushChunkedAsync(Repository, blobs[worker], digests[worker], Chunks, token)
                    : await pusher.PushMonolithicAsync(Repository, blobs[worker], digests[worker], token);
                if (error is null)
                {
                    bytes.Add(BlobSize);
                }

                return error;
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
            {
                pusher.Connection.Close();
                return ex.GetType().Name;
            }
        }

        try
        {
            return await Measurement.RunAsync(
                context, Name, scenarioCase.Variant, clients, context.Options.MaxPushes, PushAsync, Prepare, bytes,
                cancellationToken);
        }
        finally
        {
            foreach (var pusher in pushers)
            {
                pusher.Dispose();
            }
        }
    }
}
