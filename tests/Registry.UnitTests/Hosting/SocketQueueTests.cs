using System.Net;
using System.Net.Sockets;
using Registry.Hosting;

namespace Registry.UnitTests.Hosting;

public sealed class SocketQueueTests
{
    [Fact]
    public async Task Acknowledged_CountsTheBytesThePeerHasTaken()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        using var sender = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await sender.ConnectAsync(listener.LocalEndPoint!);
        using var receiver = await listener.AcceptAsync();
        // The handshake's SYN counts as one byte.
        var start = SocketQueue.Acknowledged(sender);
        Assert.InRange(start, 0, 1);

        var data = new byte[100_000];
        await sender.SendAsync(data);
        var buffer = new byte[16 * 1024];
        for (var received = 0; received < data.Length;)
        {
            received += await receiver.ReceiveAsync(buffer);
        }

        // The last acknowledgement may still be on its way for a moment.
        var acknowledged = 0L;
        for (var i = 0; i < 100 && acknowledged < start + data.Length; i++)
        {
            acknowledged = SocketQueue.Acknowledged(sender);
            await Task.Delay(10);
        }

        Assert.Equal(start + data.Length, acknowledged);
    }
}
