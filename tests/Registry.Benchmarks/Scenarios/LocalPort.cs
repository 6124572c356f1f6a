using System.Net;
using System.Net.Sockets;

namespace Registry.Benchmarks.Scenarios;

/// <summary>Checks, before a reference server is started, that nothing listens on its port already.</summary>
internal static class LocalPort
{
    /// <summary>
    /// Throws when 127.0.0.1:<paramref name="port"/> is taken: a server started there would fail to bind
    /// while whatever holds the port answered its readiness probe and got measured in its place.
    /// </summary>
    public static void EnsureFree(int port, string server)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

        // As the servers themselves do: connections of an earlier run left in TIME_WAIT do not hold the
        // port, a listener does.
        probe.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            probe.Bind(new IPEndPoint(IPAddress.Loopback, port));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            throw new InvalidOperationException($"127.0.0.1:{port} is in use; {server} needs a free port", ex);
        }
    }
}
