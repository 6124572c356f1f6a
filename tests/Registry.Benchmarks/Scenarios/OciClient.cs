using Registry.Benchmarks.Http;

namespace Registry.Benchmarks.Scenarios;

/// <summary>The push side of the OCI API over one raw connection: monolithic and chunked blob uploads, manifests.</summary>
internal sealed class OciClient : IDisposable
{
    private readonly RegistryTarget _target;
    private readonly RawHttpConnection _connection;

    public OciClient(RegistryTarget target, int bufferSize = 16 * 1024)
    {
        ArgumentNullException.ThrowIfNull(target);
        _target = target;
        _connection = new RawHttpConnection(target.EndPoint, bufferSize);
    }

    public RawHttpConnection Connection => _connection;

    /// <summary>Whether the last response this client read carried Retry-After (a shed answer should).</summary>
    public bool LastRetryAfter { get; private set; }

    /// <summary>POST to open an upload; returns the session's path or an error kind.</summary>
    public async ValueTask<(string? Location, string? Error)> StartUploadAsync(string repository, CancellationToken cancellationToken)
    {
        var head = RawRequest.Build("POST", $"/v2/{repository}/blobs/uploads/", _target.Host, 0);
        var response = await SendAsync(head, default, false, true, cancellationToken);
        if (response.Status != 202 || response.Location is null)
        {
            return (null, $"post_{response.Status}");
        }

        return (RegistryTarget.PathOf(response.Location), null);
    }

    /// <summary>POST, then PUT ?digest= with the whole body. Null on success.</summary>
    public async ValueTask<string?> PushMonolithicAsync(
        string repository,
        ReadOnlyMemory<byte> content,
        string digest,
        CancellationToken cancellationToken)
    {
        var (location, error) = await StartUploadAsync(repository, cancellationToken);
        if (location is null)
        {
            return error;
        }

        var head = RawRequest.Build(
            "PUT",
            RegistryTarget.WithQuery(location, "digest", digest),
            _target.Host,
            content.Length,
            ("Content-Type", "application/octet-stream"));
        var response = await SendAsync(head, content, false, false, cancellationToken);
        return response.Status == 201 ? null : $"put_{response.Status}";
    }

    /// <summary>POST, PATCH each chunk with Content-Range, then an empty PUT ?digest=. Null on success.</summary>
    public async ValueTask<string?> PushChunkedAsync(
        string repository,
        ReadOnlyMemory<byte> content,
        string digest,
        int chunks,
        CancellationToken cancellationToken)
    {
        var (location, error) = await StartUploadAsync(repository, cancellationToken);
        if (location is null)
        {
            return error;
        }

        var chunkSize = (content.Length + chunks - 1) / chunks;
        for (var offset = 0; offset < content.Length; offset += chunkSize)
        {
            var chunk = content.Slice(offset, Math.Min(chunkSize, content.Length - offset));
            var (next, patchError) = await PatchAsync(location, chunk, offset, cancellationToken);
            if (next is null)
            {
                return patchError;
            }

            location = next;
        }

        var head = RawRequest.Build("PUT", RegistryTarget.WithQuery(location, "digest", digest), _target.Host, 0);
        var response = await SendAsync(head, default, false, false, cancellationToken);
        return response.Status == 201 ? null : $"put_{response.Status}";
    }

    /// <summary>One PATCH of a chunk at an offset; returns the next upload location or an error kind.</summary>
    public async ValueTask<(string? Location, string? Error)> PatchAsync(
        string location,
        ReadOnlyMemory<byte> chunk,
        long offset,
        CancellationToken cancellationToken)
    {
        var head = RawRequest.Build(
            "PATCH",
            location,
            _target.Host,
            chunk.Length,
            ("Content-Type", "application/octet-stream"),
            ("Content-Range", $"{offset}-{offset + chunk.Length - 1}"));
        var response = await SendAsync(head, chunk, false, true, cancellationToken);
        if (response.Status != 202)
        {
            return (null, $"patch_{response.Status}");
        }

        return (response.Location is null ? location : RegistryTarget.PathOf(response.Location), null);
    }

    /// <summary>PUT ?digest= with an optional last chunk; returns the blob's location or an error kind.</summary>
    public async ValueTask<(string? Location, string? Error)> FinishAsync(
        string location,
        string digest,
        ReadOnlyMemory<byte> content,
        CancellationToken cancellationToken)
    {
        var head = content.IsEmpty
            ? RawRequest.Build("PUT", RegistryTarget.WithQuery(location, "digest", digest), _target.Host, 0)
            : RawRequest.Build(
                "PUT", RegistryTarget.WithQuery(location, "digest", digest), _target.Host, content.Length, ("Content-Type", "application/octet-stream"));
        var response = await SendAsync(head, content, false, true, cancellationToken);
        return response.Status == 201 ? (response.Location ?? location, null) : (null, $"put_{response.Status}");
    }

    /// <summary>GET an upload session's status; returns the HTTP status.</summary>
    public async ValueTask<int> UploadStatusAsync(string location, CancellationToken cancellationToken)
    {
        var head = RawRequest.Build("GET", location, _target.Host);
        var response = await SendAsync(head, default, false, false, cancellationToken);
        return response.Status;
    }

    /// <summary>GET /v2/; true when the registry answers 200.</summary>
    public async ValueTask<bool> PingAsync(CancellationToken cancellationToken)
    {
        var head = RawRequest.Build("GET", "/v2/", _target.Host);
        var response = await SendAsync(head, default, false, false, cancellationToken);
        return response.Status == 200;
    }

    /// <summary>HEAD a blob; true when the registry has it.</summary>
    public async ValueTask<bool> HasBlobAsync(string repository, string digest, CancellationToken cancellationToken)
    {
        var head = RawRequest.Build("HEAD", $"/v2/{repository}/blobs/{digest}", _target.Host);
        var response = await SendAsync(head, default, true, false, cancellationToken);
        return response.Status == 200;
    }

    /// <summary>PUT a manifest by tag; returns the digest the registry reports, or throws.</summary>
    public async ValueTask<string?> PutManifestAsync(
        string repository,
        string reference,
        byte[] manifest,
        string mediaType,
        CancellationToken cancellationToken)
    {
        var head = RawRequest.Build(
            "PUT", $"/v2/{repository}/manifests/{reference}", _target.Host, manifest.Length, ("Content-Type", mediaType));
        var response = await SendAsync(head, manifest, false, true, cancellationToken);
        if (response.Status != 201)
        {
            throw new InvalidOperationException($"{_target.Label}: manifest PUT {repository}:{reference} answered {response.Status}");
        }

        return response.ContentDigest;
    }

    public void Dispose() => _connection.Dispose();

    private async ValueTask<RawResponse> SendAsync(
        ReadOnlyMemory<byte> head,
        ReadOnlyMemory<byte> body,
        bool isHead,
        bool readHeaders,
        CancellationToken cancellationToken)
    {
        LastRetryAfter = false;
        var response = await _connection.SendAsync(head, body, isHead, readHeaders, null, cancellationToken);
        LastRetryAfter = response.HasRetryAfter;
        return response;
    }
}
