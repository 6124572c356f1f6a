using System.Buffers;
using Microsoft.Extensions.Options;

namespace Registry.EdgeHttp.Http;

/// <summary>
/// Builds Location headers: under the configured external URL, from trusted forwarded headers, or as
/// absolute paths (which every client resolves against the URL it called).
/// </summary>
internal sealed class Locations
{
    private static readonly SearchValues<char> HostCharacters =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]");

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

        // Trusted only behind a proxy that overwrites it; even then only a plain host[:port] is used, so a
        // stray value can neither break the response header nor point the client elsewhere in the URL.
        if (_trustForwarded
            && context.Request.Headers["X-Forwarded-Host"].ToString() is { Length: > 0 } host
            && host.Split(',')[0].Trim() is var firstHost
            && IsHostAndPort(firstHost))
        {
            var proto = context.Request.Headers["X-Forwarded-Proto"].ToString();
            var scheme = proto is "http" or "https" ? proto : context.Request.Scheme;
            return $"{scheme}://{firstHost}{path}";
        }

        return path;
    }

    // A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port: letters, digits,
    // '.', '-', ':' and brackets only, at most 255 characters.
    internal static bool IsHostAndPort(string value) =>
        value.Length is > 0 and <= 255
        && !value.AsSpan().ContainsAnyExcept(HostCharacters);

}
