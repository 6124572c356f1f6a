using Microsoft.Extensions.Options;

namespace Registry.EdgeHttp.Http;

/// <summary>
/// Builds Location headers: under the configured external URL, from trusted forwarded headers, or as
/// absolute paths (which every client resolves against the URL it called).
/// </summary>
internal sealed class Locations
{
    private readonly string? _externalUrl;
    private readonly bool _trustForwarded;

    public Locations(IOptions<EdgeOptions> options)
    {
        _externalUrl = options.Value.ExternalUrl?.TrimEnd('/');
        _trustForwarded = options.Value.TrustForwardedHeaders;
    }

    /// <summary>The Location for an absolute path such as "/v2/library/ubuntu/blobs/sha256:…".</summary>
    public string For(HttpContext context, string path)
    {
        if (!string.IsNullOrEmpty(_externalUrl))
        {
            return _externalUrl + path;
        }

        // TODO: X-Forwarded-Host is not validated as a host name; only trust it behind a proxy that overwrites it.
        if (_trustForwarded && context.Request.Headers["X-Forwarded-Host"].ToString() is { Length: > 0 } host)
        {
            var proto = context.Request.Headers["X-Forwarded-Proto"].ToString();
            var scheme = proto is "http" or "https" ? proto : context.Request.Scheme;
            var firstHost = host.Split(',')[0].Trim();
            return $"{scheme}://{firstHost}{path}";
        }

        return path;
    }
}
