using System.Globalization;
using Microsoft.Extensions.Options;
using Registry.Storage;

namespace Registry.Blob.Downloads;

/// <summary>Offers signed URLs to this process's direct download server for blobs the storage driver holds in local files.</summary>
internal sealed class DirectDownloadRedirector : IBlobRedirector
{
    private readonly DirectDownloadServer _server;
    private readonly DownloadSigner _signer;
    private readonly IStorageDriver _storage;
    private readonly TimeSpan _lifetime;

    public DirectDownloadRedirector(
        DirectDownloadServer server,
        DownloadSigner signer,
        IStorageDriver storage,
        IOptions<DirectDownloadOptions> options)
    {
        _server = server;
        _signer = signer;
        _storage = storage;
        _lifetime = options.Value.UrlLifetime;
    }

    public ValueTask<string?> GetRedirectUrlAsync(string digest, long size, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(digest);
        var baseUrl = _server.PublicBaseUrl;
        if (baseUrl is null || _server.Stopping.IsCancellationRequested || _server.IsFull
            || _storage.GetLocalPath(BlobPaths.Blob(digest)) is null)
        {
            return ValueTask.FromResult<string?>(null);
        }

        var path = digest.Replace(':', '/');
        var expires = _signer.ExpiryFor(_lifetime);
        var signature = _signer.Sign(path, expires);
        return ValueTask.FromResult<string?>(string.Create(CultureInfo.InvariantCulture, $"{baseUrl}/{path}?expires={expires}&sig={signature}"));
    }
}
