using System.Net;
using System.Security.Cryptography;

namespace Registry.Benchmarks.Http;

/// <summary>
/// A GET that follows a redirect (a registry's signed direct-download URL, as a 307) on a second
/// keep-alive connection of its own, as docker and containerd do. Loopback targets only.
/// </summary>
internal sealed class RedirectingConnection(RawHttpConnection origin, int bufferSize) : IDisposable
{
    private RawHttpConnection? _redirected;
    private EndPoint? _redirectedTo;

    /// <summary>The connection to the registry itself.</summary>
    public RawHttpConnection Origin => origin;

    /// <summary>Sends a GET head; on 301/302/303/307/308 with a Location, GETs that URL and returns its response.</summary>
    public async ValueTask<RawResponse> GetAsync(byte[] head, IncrementalHash? sink, CancellationToken cancellationToken)
    {
        var response = await origin.SendAsync(head, default, false, true, sink, cancellationToken);
        if (response.Status is not (301 or 302 or 303 or 307 or 308) || response.Location is not { } location)
        {
            return response;
        }

        // The redirect's own body (if any) is not the blob.
        sink?.GetHashAndReset();
        var uri = new Uri(location);
        var address = uri.IsLoopback && !IPAddress.TryParse(uri.Host, out _) ? IPAddress.Loopback : IPAddress.Parse(uri.Host);
        if (!IPAddress.IsLoopback(address))
        {
            throw new InvalidOperationException($"redirect to {uri.Host}: the benchmarks only send traffic to loopback");
        }

        var endPoint = new IPEndPoint(address, uri.Port);
        if (_redirected is null || !endPoint.Equals(_redirectedTo))
        {
            _redirected?.Dispose();
            _redirected = new RawHttpConnection(endPoint, bufferSize);
            _redirectedTo = endPoint;
        }

        var request = RawRequest.Build("GET", uri.PathAndQuery, uri.Authority);
        return await _redirected.SendAsync(request, default, false, false, sink, cancellationToken);
    }

    /// <summary>Closes both connections (after an error).</summary>
    public void Close()
    {
        origin.Close();
        _redirected?.Close();
    }

    public void Dispose()
    {
        origin.Dispose();
        _redirected?.Dispose();
    }
}
