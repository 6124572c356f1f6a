using System.Buffers;
using System.Text;
using Registry.EdgeHttp.Http;

namespace Registry.UnitTests.EdgeHttp.Http;

public sealed class ConnectionGateTests
{
    [Theory]
    [InlineData("GET /healthz/live HTTP/1.1\r\n", true)]
    [InlineData("GET /healthz/ready HTTP/1.1\r\n", true)]
    [InlineData("GET /metrics HTTP/1.1\r\n", true)]
    [InlineData("GET /metrics?x=1 HTTP/1.1\r\n", true)]
    [InlineData("GET /v2/ HTTP/1.1\r\n", false)]
    [InlineData("POST /healthz/live HTTP/1.1\r\n", false)]
    [InlineData("GET /metricsx HTTP/1.1\r\n", false)]
    [InlineData("GET /hea", null)]
    [InlineData("GET /metrics", null)]
    [InlineData("G", null)]
    [InlineData("X", false)]
    public void ProbeRequestLines_AreToldApart_FromTheirFirstBytes(string received, bool? expected) =>
        Assert.Equal(expected, ConnectionGate.IsProbe(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(received))));

    [Theory]
    [InlineData(64L << 20, 512)]
    [InlineData(24L << 30, 196608)]
    [InlineData(1L << 20, 64)]
    public void TheBound_IsTheLimitOver128KiB_AtLeast64(long limit, int expected) =>
        Assert.Equal(expected, ConnectionGate.MaxFor(limit));

    [Theory]
    [InlineData(1_048_576L, 40, 524_204)]
    [InlineData(1024L, 300, 298)]
    [InlineData(300L, 296, 16)]
    [InlineData(null, 40, int.MaxValue)]
    public void TheBound_KeepsHalfOfTheFreeDescriptorsBeyondAReserve(long? limit, int open, int expected) =>
        Assert.Equal(expected, ConnectionGate.MaxForDescriptors(limit, open));

    [Fact]
    public void AnEvictedConnection_IsCutOnlyWhileNoRequestHasReachedTheHandler()
    {
        var idle = new ConnectionGate.Slot(new Microsoft.AspNetCore.Connections.DefaultConnectionContext());
        Assert.True(idle.TryEvict(Environment.TickCount64 + 1));
        Assert.True(idle.AbortIfNothingOwed());

        // Evicted while its next request head was on its way: the request reached the handler, so it is let finish.
        var racing = new ConnectionGate.Slot(new Microsoft.AspNetCore.Connections.DefaultConnectionContext());
        Assert.True(racing.TryEvict(Environment.TickCount64 + 1));
        racing.Enter();
        Assert.False(racing.AbortIfNothingOwed());
        Assert.Equal(long.MaxValue, racing.IdleSince);
    }
}
