using System.Net;
using System.Net.Sockets;
using System.Text;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// At the connection bound a new connection takes its place from the client address that holds the most,
/// never from one that holds no more than the newcomer's own: a client that reconnects as fast as it is
/// evicted evicts itself. Clients are told apart by source address, 127.0.0.x on the loopback.
/// </summary>
public sealed class ConnectionShareTests() : FreshRegistryTest("--Registry:Edge:MaxConnections=4", "--Registry:Edge:EvictIdleAfter=00:00:01")
{
    [Fact]
    public async Task AClientHoldingTheMost_EvictsItsOwnIdleConnection_NotAnotherClients()
    {
        // A client with one keep-alive connection, idle longest of all.
        using var patient = await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address);
        Assert.Equal(200, (await ClientSockets.AskAsync(patient, Instance.Address, "GET", "/v2/")).Status);
        await Task.Delay(100);

        // Another holds the other three places with connections that say nothing.
        var greedy = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                greedy.Add(await ClientSockets.ConnectFromAsync("127.0.0.2", Instance.Address));
            }

            await Task.Delay(1300);

            // Its next connection gets a place: one of its own idle ones makes room, not the patient client's.
            using (var again = await ClientSockets.ConnectFromAsync("127.0.0.2", Instance.Address))
            {
                Assert.Equal(200, (await ClientSockets.AskAsync(again, Instance.Address, "GET", "/v2/", close: true)).Status);
            }

            Assert.Equal(200, (await ClientSockets.AskAsync(patient, Instance.Address, "GET", "/v2/")).Status);
            Assert.Equal(1, await ClientSockets.CountClosedAsync(greedy));
        }
        finally
        {
            greedy.ForEach(connection => connection.Dispose());
        }
    }

    [Fact]
    public async Task AClientReconnectingAsFastAsItIsEvicted_DoesNotShutOutAnother()
    {
        // Six silent connections from one address for four places, each opened again as soon as it is closed
        // (evicted, or refused): its connections never stay idle for EvictIdleAfter.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(4));
        var reconnects = 0;
        var attackers = Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var loris = await ClientSockets.ConnectFromAsync("127.0.0.2", Instance.Address);
                    var buffer = new byte[1024];
                    while (await loris.GetStream().ReadAsync(buffer, stop.Token) > 0)
                    {
                        // A refusal's bytes: read on to its end.
                    }
                }
                catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
                {
                    // Cut, or the time is up.
                }

                Interlocked.Increment(ref reconnects);
            }
        })).ToArray();

        var answers = new List<int>();
        await Task.Delay(500);
        for (var i = 0; i < 10; i++)
        {
            using var asking = await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address);
            answers.Add((await ClientSockets.AskAsync(asking, Instance.Address, "GET", "/v2/", close: true)).Status);
            await Task.Delay(200);
        }

        await Task.WhenAll(attackers);
        // A silent connection at the bound is refused once it has said nothing for a second (it evicts nobody), so
        // each of the six reconnects about once a second.
        Assert.True(reconnects >= 12, $"the silent client reconnected only {reconnects} times");
        Assert.All(answers, status => Assert.Equal(200, status));
    }

    [Fact]
    public async Task ABusyClientsKeepAliveConnections_AreNotEvicted_BetweenItsRequests()
    {
        // A client keeps every place busy with back-to-back requests on four keep-alive connections, while another
        // address keeps asking for a place: the busy one holds four more, but its connections are never idle long.
        var held = new List<TcpClient>();
        for (var i = 0; i < 4; i++)
        {
            held.Add(await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address));
            Assert.Equal(200, (await ClientSockets.AskAsync(held[^1], Instance.Address, "GET", "/v2/")).Status);
        }

        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var failures = new List<string>();
        var served = 0;
        var busy = held.Select(tcp => Task.Run(async () =>
        {
            using var owned = tcp;
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var answer = await ClientSockets.AskAsync(tcp, Instance.Address, "GET", "/v2/");
                    Interlocked.Increment(ref served);
                    if (answer.Status != 200)
                    {
                        lock (failures)
                        {
                            failures.Add(answer.Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
                        }
                    }
                }
                catch (IOException ex)
                {
                    lock (failures)
                    {
                        failures.Add(ex.Message);
                    }

                    return;
                }
            }
        })).ToArray();

        var newcomers = 0;
        while (!stop.IsCancellationRequested)
        {
            using var newcomer = await ClientSockets.ConnectFromAsync("127.0.0.4", Instance.Address);
            try
            {
                await ClientSockets.AskAsync(newcomer, Instance.Address, "GET", "/v2/", close: true);
            }
            catch (IOException)
            {
                // Refused and closed before its request was read: expected, every place is busy.
            }

            newcomers++;
            await Task.Delay(50);
        }

        await Task.WhenAll(busy);
        Assert.True(newcomers >= 5 && served > 100, $"{newcomers} newcomers, {served} requests served");
        Assert.True(failures.Count == 0, string.Join("; ", failures));
    }
}

/// <summary>
/// A flood from as many addresses as there are places: each address holds one place, one more than a
/// newcomer's, and reconnects as soon as it loses it. The newcomer, holding fewer, goes first.
/// </summary>
public sealed class ConnectionFloodTests() : FreshRegistryTest("--Registry:Edge:MaxConnections=12", "--Registry:Edge:EvictIdleAfter=00:00:01")
{
    [Fact]
    public async Task AddressesHoldingOnePlaceEach_DoNotShutOutANewcomer()
    {
        // Twelve addresses, two connections each: every connection asks once and then idles until it is closed
        // (evicted, refused), and opens again at once.
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(6));
        var reconnects = 0;
        var flooders = Enumerable.Range(10, 12).SelectMany(address => Enumerable.Range(0, 3).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    using var idler = await ClientSockets.ConnectFromAsync($"127.0.0.{address}", Instance.Address);
                    await ClientSockets.AskAsync(idler, Instance.Address, "GET", "/v2/");
                    var buffer = new byte[1024];
                    while (await idler.GetStream().ReadAsync(buffer, stop.Token) > 0)
                    {
                        // Nothing more is asked: read on until the edge closes it.
                    }
                }
                catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
                {
                    // Refused, cut, or the time is up.
                }

                Interlocked.Increment(ref reconnects);
            }
        }))).ToArray();

        // Once the flooders hold every place and their connections' ages have spread out.
        await Task.Delay(2000);
        var answers = new List<string>();
        for (var i = 0; i < 10; i++)
        {
            using var newcomer = await ClientSockets.ConnectFromAsync("127.0.0.40", Instance.Address);
            try
            {
                answers.Add((await ClientSockets.AskAsync(newcomer, Instance.Address, "GET", "/v2/", close: true)).Status.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (IOException ex)
            {
                answers.Add(ex.Message);
            }

            await Task.Delay(200);
        }

        await Task.WhenAll(flooders);
        Assert.True(reconnects > 24, $"the flooders reconnected only {reconnects} times");
        Assert.True(answers.Count(answer => answer == "200") >= 8, string.Join("; ", answers));
    }
}

/// <summary>
/// At the bound a newcomer's request line is looked at before it may evict anyone: a probe goes past the bound,
/// and a newcomer that has left or says nothing evicts nobody.
/// </summary>
public sealed class NewcomersAtTheBoundTests() : FreshRegistryTest("--Registry:Edge:MaxConnections=4", "--Registry:Edge:EvictIdleAfter=00:00:01")
{
    [Fact]
    public async Task AProbe_TheSilentAndTheGone_EvictNoIdleConnection()
    {
        // One address holds every place with keep-alive connections idle for longer than any eviction needs.
        var idle = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 4; i++)
            {
                idle.Add(await ClientSockets.ConnectFromAsync("127.0.0.2", Instance.Address));
                Assert.Equal(200, (await ClientSockets.AskAsync(idle[^1], Instance.Address, "GET", "/v2/")).Status);
            }

            await Task.Delay(1300);

            // A probe from another address is answered past the bound.
            using (var probe = await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address))
            {
                Assert.Equal(200, (await ClientSockets.AskAsync(probe, Instance.Address, "GET", "/healthz/live", close: true)).Status);
            }

            // Newcomers that close at once, and one that says nothing until it is refused.
            for (var i = 0; i < 10; i++)
            {
                using var gone = await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address);
            }

            using (var silent = await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address))
            {
                var refusal = new byte[512];
                using var wait = new CancellationTokenSource(Timeouts.Request);
                Assert.True(await silent.GetStream().ReadAsync(refusal, wait.Token) > 0);
                Assert.StartsWith("HTTP/1.1 503", System.Text.Encoding.ASCII.GetString(refusal));
            }

            // None of them took a place: every idle connection is still open and serves.
            Assert.Equal(0, await ClientSockets.CountClosedAsync(idle));
            foreach (var connection in idle)
            {
                Assert.Equal(200, (await ClientSockets.AskAsync(connection, Instance.Address, "GET", "/v2/")).Status);
            }
        }
        finally
        {
            idle.ForEach(connection => connection.Dispose());
        }
    }
}

/// <summary>
/// Connections at the bound that say nothing fill the places where request lines are looked at: the one silent
/// longest makes room for a new one, so a probe is still told apart.
/// </summary>
public sealed class SilentNewcomersTests() : FreshRegistryTest("--Registry:Edge:MaxConnections=4", "--Registry:Edge:EvictIdleAfter=00:10:00")
{
    [Fact]
    public async Task MoreSilentNewcomersThanCanBeLookedAt_DoNotKeepAProbeOut()
    {
        // Four addresses hold one place each: none can be evicted for a newcomer of another address.
        var held = new List<TcpClient>();
        var silent = new List<TcpClient>();
        try
        {
            for (var address = 2; address < 6; address++)
            {
                held.Add(await ClientSockets.ConnectFromAsync($"127.0.0.{address}", Instance.Address));
                Assert.Equal(200, (await ClientSockets.AskAsync(held[^1], Instance.Address, "GET", "/v2/")).Status);
            }

            // More silent newcomers than request lines are looked at at once, each from an address of its own.
            for (var i = 0; i < Registry.EdgeHttp.Http.ConnectionGate.MaxPeeking + 8; i++)
            {
                silent.Add(await ClientSockets.ConnectFromAsync($"127.0.1.{10 + i}", Instance.Address));
            }

            using var probe = await ClientSockets.ConnectFromAsync("127.0.0.9", Instance.Address);
            Assert.Equal(200, (await ClientSockets.AskAsync(probe, Instance.Address, "GET", "/healthz/live", close: true)).Status);
        }
        finally
        {
            held.ForEach(connection => connection.Dispose());
            silent.ForEach(connection => connection.Dispose());
        }
    }
}

/// <summary>
/// A connection let through past the bound because it began with a probe's request line serves that probe
/// and closes: it is no way around the bound for other requests.
/// </summary>
public sealed class ProbePastTheBoundTests() : FreshRegistryTest("--Registry:Edge:MaxConnections=2", "--Registry:Edge:EvictIdleAfter=00:10:00")
{
    [Fact]
    public async Task AProbeConnectionPastTheBound_AnswersTheProbe_ThenCloses()
    {
        // The places are held by the probing address itself, so none of them may be evicted for it.
        using var first = await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address);
        using var second = await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address);
        Assert.Equal(503, (await ClientSockets.AskUntilAsync("127.0.0.3", Instance.Address, "/v2/", 503)).Status);

        // A scrape with a registry request after it on the same connection: the scrape is answered, with
        // Connection: close, and the connection ends there.
        using var probe = await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address);
        var stream = probe.GetStream();
        await stream.WriteAsync(System.Text.Encoding.ASCII.GetBytes(
            $"GET /metrics HTTP/1.1\r\nHost: {Instance.Address.Authority}\r\n\r\nGET /v2/ HTTP/1.1\r\nHost: {Instance.Address.Authority}\r\n\r\n"));
        using var received = new MemoryStream();
        using var timeout = new CancellationTokenSource(Timeouts.Request);
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
        {
            await received.WriteAsync(buffer.AsMemory(0, read), timeout.Token);
        }

        var text = System.Text.Encoding.ASCII.GetString(received.ToArray());
        Assert.StartsWith("HTTP/1.1 200 ", text, StringComparison.Ordinal);
        Assert.Contains("Connection: close", text, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(1, text.Split("HTTP/1.1 ").Length - 1);
    }

    [Fact]
    public async Task ProbeLinesThatStallBeforeTheirHeadEnds_GiveWayToANewProbe()
    {
        using var first = await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address);
        using var second = await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address);
        Assert.Equal(503, (await ClientSockets.AskUntilAsync("127.0.0.3", Instance.Address, "/v2/", 503)).Status);

        // Every place for probes past the bound taken by a probe's request line whose head never ends.
        var stalled = new List<TcpClient>();
        try
        {
            for (var i = 0; i < Registry.EdgeHttp.Http.ConnectionGate.MaxProbesOverBound + 4; i++)
            {
                stalled.Add(await ClientSockets.ConnectFromAsync($"127.0.1.{10 + i}", Instance.Address));
                await stalled[^1].GetStream().WriteAsync(System.Text.Encoding.ASCII.GetBytes("GET /healthz/live HTTP/1.1\r\n"));
            }

            await Task.Delay(200);
            using var probe = await ClientSockets.ConnectFromAsync("127.0.0.4", Instance.Address);
            Assert.Equal(200, (await ClientSockets.AskAsync(probe, Instance.Address, "GET", "/healthz/live", close: true)).Status);
        }
        finally
        {
            stalled.ForEach(connection => connection.Dispose());
        }
    }
}

/// <summary>
/// With Registry:Edge:MaxConnectionsPerClient, one address holds at most that many connections: the next gets
/// a canned 429 TOOMANYREQUESTS with Retry-After (probes are let through), other addresses are served.
/// </summary>
public sealed class ConnectionsPerClientTests() : FreshRegistryTest("--Registry:Edge:MaxConnectionsPerClient=2", "--Registry:Edge:EvictIdleAfter=00:10:00")
{
    [Fact]
    public async Task AnAddressPastItsShare_Gets429_OthersAndProbesAreServed()
    {
        using var first = await ClientSockets.ConnectFromAsync("127.0.0.2", Instance.Address);
        using var second = await ClientSockets.ConnectFromAsync("127.0.0.2", Instance.Address);

        // Both held connections count once the edge has accepted them.
        var refused = await ClientSockets.AskUntilAsync("127.0.0.2", Instance.Address, "/v2/", 429);
        Assert.Equal(429, refused.Status);
        Assert.Equal("1", refused.Header("Retry-After"));
        Assert.Contains("\"TOOMANYREQUESTS\"", refused.Body, StringComparison.Ordinal);

        using (var head = await ClientSockets.ConnectFromAsync("127.0.0.2", Instance.Address))
        {
            var answer = await ClientSockets.AskAsync(head, Instance.Address, "HEAD", "/v2/", close: true);
            Assert.Equal(429, answer.Status);
            Assert.Empty(answer.Body);
        }

        using (var probe = await ClientSockets.ConnectFromAsync("127.0.0.2", Instance.Address))
        {
            Assert.Equal(200, (await ClientSockets.AskAsync(probe, Instance.Address, "GET", "/healthz/live", close: true)).Status);
        }

        using (var other = await ClientSockets.ConnectFromAsync("127.0.0.3", Instance.Address))
        {
            Assert.Equal(200, (await ClientSockets.AskAsync(other, Instance.Address, "GET", "/v2/", close: true)).Status);
        }

        // A place given back is taken again.
        first.Close();
        Assert.Equal(200, (await ClientSockets.AskUntilAsync("127.0.0.2", Instance.Address, "/v2/", 200)).Status);
    }
}

/// <summary>Past its share an address's own idle connection makes room, as at the bound.</summary>
public sealed class ConnectionsPerClientEvictionTests() : FreshRegistryTest("--Registry:Edge:MaxConnectionsPerClient=2", "--Registry:Edge:EvictIdleAfter=00:00:00.300")
{
    [Fact]
    public async Task AnAddressPastItsShare_EvictsItsOwnIdleConnection()
    {
        var held = new List<TcpClient>
        {
            await ClientSockets.ConnectFromAsync("127.0.0.2", Instance.Address),
            await ClientSockets.ConnectFromAsync("127.0.0.2", Instance.Address),
        };
        try
        {
            await Task.Delay(600);
            using (var third = await ClientSockets.ConnectFromAsync("127.0.0.2", Instance.Address))
            {
                Assert.Equal(200, (await ClientSockets.AskAsync(third, Instance.Address, "GET", "/v2/", close: true)).Status);
            }

            Assert.Equal(1, await ClientSockets.CountClosedAsync(held));
        }
        finally
        {
            held.ForEach(connection => connection.Dispose());
        }
    }
}

/// <summary>Connections from a chosen loopback source address, and one request at a time on them.</summary>
internal static class ClientSockets
{
    public static async Task<TcpClient> ConnectFromAsync(string source, Uri registry)
    {
        var tcp = new TcpClient(new IPEndPoint(IPAddress.Parse(source), 0));
        try
        {
            await tcp.ConnectAsync(registry.Host, registry.Port);
            return tcp;
        }
        catch
        {
            tcp.Dispose();
            throw;
        }
    }

    /// <summary>Sends a request and reads its answer: its head and Content-Length bytes of body (none to a HEAD).</summary>
    public static async Task<Answer> AskAsync(TcpClient tcp, Uri registry, string method, string target, bool close = false)
    {
        using var timeout = new CancellationTokenSource(Timeouts.Request);
        var stream = tcp.GetStream();
        var request = $"{method} {target} HTTP/1.1\r\nHost: {registry.Authority}\r\n{(close ? "Connection: close\r\n" : string.Empty)}\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);

        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        while (true)
        {
            var text = Encoding.ASCII.GetString(received.GetBuffer(), 0, (int)received.Length);
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                var answer = Answer.Parse(text[..end], method == "HEAD" ? string.Empty : text[(end + 4)..]);
                var length = method == "HEAD" ? 0 : int.Parse(answer.Header("Content-Length") ?? "0");
                if (answer.Body.Length >= length)
                {
                    return answer;
                }
            }

            var read = await stream.ReadAsync(buffer, timeout.Token);
            if (read == 0)
            {
                throw new IOException($"the connection closed after {received.Length} bytes of the answer");
            }

            await received.WriteAsync(buffer.AsMemory(0, read), timeout.Token);
        }
    }

    /// <summary>
    /// Asks on a new connection from <paramref name="source"/> until the answer has <paramref name="status"/>
    /// (the edge counts connections once it has accepted them), 100 times at most; the last answer.
    /// </summary>
    public static async Task<Answer> AskUntilAsync(string source, Uri registry, string target, int status)
    {
        Answer answer = null!;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var tcp = await ConnectFromAsync(source, registry);
            answer = await AskAsync(tcp, registry, "GET", target, close: true);
            if (answer.Status == status)
            {
                break;
            }

            await Task.Delay(20);
        }

        return answer;
    }

    /// <summary>How many of the connections the edge has closed (a read ends or fails within a second).</summary>
    public static async Task<int> CountClosedAsync(IEnumerable<TcpClient> connections)
    {
        var closed = 0;
        foreach (var connection in connections)
        {
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                closed += await connection.GetStream().ReadAsync(new byte[16], wait.Token) == 0 ? 1 : 0;
            }
            catch (OperationCanceledException)
            {
                // Still open: nothing came within the second.
            }
            catch (IOException)
            {
                closed++;
            }
        }

        return closed;
    }

    public sealed record Answer(int Status, IReadOnlyDictionary<string, string> Headers, string Body)
    {
        public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

        public static Answer Parse(string head, string body)
        {
            var lines = head.Split("\r\n");
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(':');
                headers[line[..colon]] = line[(colon + 1)..].Trim();
            }

            return new Answer(int.Parse(lines[0].Split(' ')[1]), headers, body);
        }
    }
}
