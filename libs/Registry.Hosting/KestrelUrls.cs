using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Registry.Hosting;

/// <summary>Turns "http://host:port" addresses into Kestrel listeners with chosen protocols.</summary>
internal static class KestrelUrls
{
    /// <summary>Listens on an http:// address: localhost, any address (*, +, 0.0.0.0, [::]) or one IP.</summary>
    public static void Listen(KestrelServerOptions kestrel, string url, HttpProtocols protocols)
    {
        var uri = new Uri(url.Trim().Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal));
        if (!string.Equals(uri.Scheme, Uri.UriSchemeHttp, StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"'{url}': only http:// addresses are supported here.");
        }

        if (uri.IsLoopback && string.Equals(uri.Host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            kestrel.ListenLocalhost(uri.Port, listen => listen.Protocols = protocols);
        }
        else if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address))
        {
            if (address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any))
            {
                kestrel.ListenAnyIP(uri.Port, listen => listen.Protocols = protocols);
            }
            else
            {
                kestrel.Listen(address, uri.Port, listen => listen.Protocols = protocols);
            }
        }
        else
        {
            throw new InvalidOperationException($"'{url}': the host must be localhost or an IP address.");
        }
    }
}
