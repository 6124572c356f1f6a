using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Registry.IntegrationTests.Support;

/// <summary>Requests whose client hangs up part-way, as a real client that gives up does.</summary>
public static class AbortedRequests
{
    /// <summary>Declares a 1 MiB chunk, sends a quarter of it, then resets the connection.</summary>
    public static async Task AbandonedPatchAsync(Uri registry, string location)
    {
        ArgumentNullException.ThrowIfNull(registry);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, registry.Port)).WaitAsync(Timeouts.Request);
        await socket.SendAsync(Encoding.ASCII.GetBytes(
            $"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n"));
        await socket.SendAsync(new byte[256 * 1024]);
        await Task.Delay(100);
        socket.LingerState = new LingerOption(true, 0);
    }
}
