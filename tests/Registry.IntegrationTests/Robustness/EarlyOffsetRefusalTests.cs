using System.Net;
using System.Net.Sockets;
using System.Text;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// A chunk that does not continue its session is refused before its body is read, also for a session
/// this edge started (whose chunk files it writes without asking the blob service where).
/// </summary>
public sealed class EarlyOffsetRefusalTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task PatchAtTheWrongOffset_WithExpectContinue_Gets416WithoutSendingTheBody()
    {
        var repo = OciClient.UniqueRepo("early-416");
        var location = await Client.StartUploadAsync(repo);
        location = await Client.PatchAcceptedAsync(repo, location, OciClient.RandomBytes(10), "0-9");

        // Announces 4 MiB at offset 0 (the session holds 10 bytes) and waits for 100 Continue, which must not come.
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(Client.BaseAddress.Host, Client.BaseAddress.Port);
        var path = new Uri(Client.BaseAddress, location).PathAndQuery;
        var head = $"PATCH {path} HTTP/1.1\r\nHost: {Client.BaseAddress.Authority}\r\nContent-Type: application/octet-stream\r\n"
            + "Content-Range: 0-4194303\r\nContent-Length: 4194304\r\nExpect: 100-continue\r\n\r\n";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head));

        var answer = new byte[1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var received = await socket.ReceiveAsync(answer, SocketFlags.None, timeout.Token);
        var text = Encoding.ASCII.GetString(answer, 0, received);
        Assert.StartsWith("HTTP/1.1 416 ", text.Split("\r\n")[0], StringComparison.Ordinal);
        Assert.Contains("Range: 0-9", text, StringComparison.OrdinalIgnoreCase);

        using var status = await Client.GetAsync(location);
        OciAssert.HeaderEqual(status, "Range", "0-9");
    }
}
