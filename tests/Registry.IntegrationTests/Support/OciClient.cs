using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace Registry.IntegrationTests.Support;

/// <summary>
/// A small OCI distribution client for tests: raw requests plus the few push helpers most tests need.
/// It never follows redirects, so every status and Location is seen as the registry sent it.
/// </summary>
public sealed class OciClient : IDisposable
{
    public const string OctetStream = "application/octet-stream";

    public OciClient(Uri address)
    {
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseProxy = false,
        };
        Http = new HttpClient(handler) { BaseAddress = address, Timeout = Timeouts.Request };
    }

    /// <summary>The underlying client; its base address is the registry.</summary>
    public HttpClient Http { get; }

    /// <summary>The registry's base address.</summary>
    public Uri BaseAddress => Http.BaseAddress!;

    /// <summary>A fresh repository name, unique to the calling test.</summary>
    public static string UniqueRepo(string prefix) => $"it/{prefix}-{Guid.NewGuid().ToString("N")[..12]}";

    /// <summary>Fresh random content, so no two tests share a blob.</summary>
    public static byte[] RandomBytes(int length) => RandomNumberGenerator.GetBytes(length);

    /// <summary>Resolves a Location header or path against the registry address, keeping its query verbatim.</summary>
    public Uri Resolve(string pathOrLocation) => new(BaseAddress, pathOrLocation);

    /// <summary>Appends a query parameter to a Location, which may already carry a query.</summary>
    public static string AppendQuery(string location, string parameter) =>
        location + (location.Contains('?', StringComparison.Ordinal) ? "&" : "?") + parameter;

    public async Task<HttpResponseMessage> SendAsync(
        HttpMethod method,
        string pathOrLocation,
        HttpContent? content = null,
        Action<HttpRequestMessage>? configure = null)
    {
        using var request = new HttpRequestMessage(method, Resolve(pathOrLocation)) { Content = content };
        configure?.Invoke(request);
        using var cts = new CancellationTokenSource(Timeouts.Request);
        var response = await Http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cts.Token);
        return response;
    }

    public Task<HttpResponseMessage> GetAsync(string path, Action<HttpRequestMessage>? configure = null) =>
        SendAsync(HttpMethod.Get, path, null, configure);

    public Task<HttpResponseMessage> HeadAsync(string path, Action<HttpRequestMessage>? configure = null) =>
        SendAsync(HttpMethod.Head, path, null, configure);

    public Task<HttpResponseMessage> DeleteAsync(string path) => SendAsync(HttpMethod.Delete, path);

    /// <summary>POST /v2/&lt;repo&gt;/blobs/uploads/ with an empty body and an optional query.</summary>
    public Task<HttpResponseMessage> PostUploadAsync(string repo, string? query = null) =>
        SendAsync(HttpMethod.Post, $"/v2/{repo}/blobs/uploads/" + (query is null ? string.Empty : "?" + query), Bytes([]));

    /// <summary>Starts an upload session and returns its Location, asserting 202.</summary>
    public async Task<string> StartUploadAsync(string repo, string? query = null)
    {
        using var response = await PostUploadAsync(repo, query);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return OciAssert.Location(response, $"/v2/{repo}/blobs/uploads/");
    }

    /// <summary>PATCH a chunk to an upload session, with a Content-Range unless null.</summary>
    public Task<HttpResponseMessage> PatchAsync(string location, byte[] data, string? contentRange) =>
        SendAsync(HttpMethod.Patch, location, Bytes(data, contentRange));

    /// <summary>PATCH a chunk that must be accepted (202); returns the session's next location.</summary>
    public async Task<string> PatchAcceptedAsync(string repo, string location, byte[] data, string? contentRange)
    {
        using var response = await PatchAsync(location, data, contentRange);
        OciAssert.Status(response, HttpStatusCode.Accepted);
        return OciAssert.Location(response, $"/v2/{repo}/blobs/uploads/");
    }

    /// <summary>PUT that closes an upload session with a digest and optional final bytes.</summary>
    public Task<HttpResponseMessage> PutUploadAsync(string location, string digest, byte[]? data = null, string? contentRange = null) =>
        SendAsync(HttpMethod.Put, AppendQuery(location, "digest=" + Uri.EscapeDataString(digest)), Bytes(data ?? [], contentRange));

    /// <summary>Pushes a blob monolithically (POST then PUT) and returns its sha256 digest, asserting 201.</summary>
    public async Task<string> PushBlobAsync(string repo, byte[] data)
    {
        var digest = Digests.Sha256(data);
        var location = await StartUploadAsync(repo);
        using var response = await PutUploadAsync(location, digest, data);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return digest;
    }

    /// <summary>PUT a manifest with the given Content-Type (none when null).</summary>
    public Task<HttpResponseMessage> PutManifestAsync(string repo, string reference, byte[] body, string? contentType)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        return SendAsync(HttpMethod.Put, $"/v2/{repo}/manifests/{reference}", content);
    }

    /// <summary>Pushes an OCI image (empty config, one random layer) and tags it, asserting 201.</summary>
    public async Task<PushedManifest> PushImageAsync(string repo, string reference, ImageShape? shape = null)
    {
        shape ??= new ImageShape();
        var configDigest = await PushBlobAsync(repo, ManifestJson.EmptyConfig);
        var layer = shape.Layer ?? RandomBytes(64);
        var layerDigest = await PushBlobAsync(repo, layer);
        var body = ManifestJson.Image(
            ManifestJson.Descriptor(shape.ConfigMediaType, configDigest, ManifestJson.EmptyConfig.Length),
            [ManifestJson.Descriptor(ManifestJson.LayerMediaType, layerDigest, layer.Length)],
            subject: shape.Subject,
            artifactType: shape.ArtifactType,
            annotations: shape.Annotations);
        using var response = await PutManifestAsync(repo, reference, body, ManifestJson.OciManifest);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return new PushedManifest(Digests.Sha256(body), body, ManifestJson.OciManifest, layerDigest, layer);
    }

    public void Dispose() => Http.Dispose();

    /// <summary>Byte content with Content-Type application/octet-stream and an optional raw Content-Range.</summary>
    public static ByteArrayContent Bytes(byte[] data, string? contentRange = null, string? contentType = OctetStream)
    {
        var content = new ByteArrayContent(data);
        if (contentType is not null)
        {
            content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }

        if (contentRange is not null)
        {
            // The upload Content-Range has no unit ("0-1023"), which the typed header refuses.
            Assert.True(content.Headers.TryAddWithoutValidation("Content-Range", contentRange));
        }

        return content;
    }
}

/// <summary>What <see cref="OciClient.PushImageAsync"/> pushed.</summary>
public sealed record PushedManifest(string Digest, byte[] Body, string MediaType, string LayerDigest, byte[] Layer);

/// <summary>Options for <see cref="OciClient.PushImageAsync"/>.</summary>
public sealed record ImageShape
{
    public string ConfigMediaType { get; init; } = ManifestJson.EmptyMediaType;

    public byte[]? Layer { get; init; }

    public string? Subject { get; init; }

    public string? ArtifactType { get; init; }

    public string? Annotations { get; init; }
}
