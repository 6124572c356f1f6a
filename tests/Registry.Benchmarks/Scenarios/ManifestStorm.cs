using System.Security.Cryptography;
using Registry.Benchmarks.Http;

namespace Registry.Benchmarks.Scenarios;

/// <summary>The per-client connections and request bytes of a manifest GET storm (S1 and admission).</summary>
internal sealed class ManifestStorm : IDisposable
{
    private readonly byte[] _request;
    private readonly RawHttpConnection[] _connections;
    private readonly bool[] _verified;
    private readonly Fixtures _fixtures;

    public ManifestStorm(ScenarioContext context, int clients, int bufferSize)
    {
        ArgumentNullException.ThrowIfNull(context);
        _fixtures = context.Fixtures;
        _request = RawRequest.Build(
            "GET", $"/v2/{Fixtures.ImageRepository}/manifests/{Fixtures.ImageTag}", context.Target.Host, -1,
            ("Accept", RawRequest.ManifestAccept));
        _connections = new RawHttpConnection[clients];
        for (var i = 0; i < clients; i++)
        {
            _connections[i] = new RawHttpConnection(context.Target.EndPoint, bufferSize);
        }

        _verified = new bool[clients];
    }

    /// <summary>Set by the caller to count answers that carried Retry-After.</summary>
    public ByteCounter? RetryAfter { get; init; }

    /// <summary>Null for a 200 with the manifest, "status_N" for another status, or a client-side error kind.</summary>
    public async ValueTask<string?> GetAsync(int worker, CancellationToken cancellationToken)
    {
        var connection = _connections[worker];
        IncrementalHash? hash = _verified[worker] ? null : IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        try
        {
            var response = await connection.SendAsync(_request, default, false, false, hash, cancellationToken);
            if (response.HasRetryAfter)
            {
                RetryAfter?.Add(1);
            }

            if (response.Status != 200)
            {
                return response.Status switch
                {
                    429 => "status_429",
                    503 => "status_503",
                    _ => "status_" + response.Status,
                };
            }

            if (response.BodyBytes != _fixtures.Manifest.Length)
            {
                return $"body_{response.BodyBytes}_of_{response.ContentLength}{(response.Chunked ? "_chunked" : string.Empty)}";
            }

            if (hash is not null)
            {
                var digest = "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
                if (digest != _fixtures.ManifestDigest)
                {
                    return "digest_mismatch";
                }

                _verified[worker] = true;
            }

            return null;
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
        {
            connection.Close();
            return ex.GetType().Name;
        }
        finally
        {
            hash?.Dispose();
        }
    }

    public void Dispose()
    {
        foreach (var connection in _connections)
        {
            connection.Dispose();
        }
    }
}
