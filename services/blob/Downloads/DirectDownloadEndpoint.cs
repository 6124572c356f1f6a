using System.Globalization;
using System.Net;

namespace Registry.Blob.Downloads;

/// <summary>Reads the direct download server's listening URL and derives the base URL put in redirects.</summary>
internal static class DirectDownloadEndpoint
{
    /// <summary>Parses "http://IP:port" (or "http://localhost:port") into an endpoint to bind.</summary>
    public static IPEndPoint ParseListenUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme != Uri.UriSchemeHttp || uri.AbsolutePath != "/")
        {
            // TODO: TLS on the direct port is not supported: sendfile needs plain sockets; terminate TLS in front if needed.
            throw new InvalidOperationException(
                $"{DirectDownloadOptions.SectionName}:Url must look like http://127.0.0.1:5001 (plain HTTP, no path); got '{url}'.");
        }

        var host = uri.Host.Trim('[', ']');
        IPAddress address;
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            address = IPAddress.Loopback;
        }
        else if (host is "*" or "+")
        {
            address = IPAddress.Any;
        }
        else if (!IPAddress.TryParse(host, out address!))
        {
            throw new InvalidOperationException($"{DirectDownloadOptions.SectionName}:Url must name an IP address or localhost; got '{url}'.");
        }

        return new IPEndPoint(address, uri.Port);
    }

    /// <summary>The configured public URL, or the bound endpoint as a URL (a wildcard address becomes loopback).</summary>
    public static string PublicBase(string? publicUrl, IPEndPoint bound)
    {
        if (!string.IsNullOrEmpty(publicUrl))
        {
            return publicUrl.TrimEnd('/');
        }

        var address = bound.Address;
        if (address.Equals(IPAddress.Any))
        {
            address = IPAddress.Loopback;
        }
        else if (address.Equals(IPAddress.IPv6Any))
        {
            address = IPAddress.IPv6Loopback;
        }

        var host = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
        return string.Create(CultureInfo.InvariantCulture, $"http://{host}:{bound.Port}");
    }
}
