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

    // A DNS name or IPv4 address, or a bracketed IPv6 address, with an optional port of 1-65535; at most
    // 255 characters, of letters, digits, '.', '-', ':' and brackets.
    internal static bool IsHostAndPort(string value)
    {
        if (value.Length is 0 or > 255 || value.AsSpan().ContainsAnyExcept(HostCharacters))
        {
            return false;
        }

        string host;
        string? port;
        if (value[0] == '[')
        {
            var close = value.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || (close + 1 < value.Length && value[close + 1] != ':'))
            {
                return false;
            }

            host = value[1..close];
            port = close + 1 < value.Length ? value[(close + 2)..] : null;
            if (Uri.CheckHostName(host) != UriHostNameType.IPv6)
            {
                return false;
            }
        }
        else
        {
            var colon = value.IndexOf(':', StringComparison.Ordinal);
            host = colon < 0 ? value : value[..colon];
            port = colon < 0 ? null : value[(colon + 1)..];
            if (Uri.CheckHostName(host) is not (UriHostNameType.Dns or UriHostNameType.IPv4))
            {
                return false;
            }
        }

        return port is null
            || (port.Length is > 0 and <= 5 && !port.AsSpan().ContainsAnyExceptInRange('0', '9')
                && int.Parse(port, System.Globalization.CultureInfo.InvariantCulture) is > 0 and <= 65535);
    }
}
