using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Registry.Hosting;
using Registry.Hosting.Memory;
using Registry.Hosting.Observability;

namespace Registry.EdgeHttp.Http;

/// <summary>
/// Bounds the edge's open connections by the memory the GC may use. Every open connection holds its
/// state and, while a request is in flight, an I/O buffer or two: under a 64 MiB heap hard limit 2048
/// clients pushing at once ran the heap out, and the process ended in an allocation that failed inside
/// a timer. Past <see cref="MaxConnections"/> (and while the heap pressure is critical) a new connection
/// gets a canned <c>503</c> with <c>Retry-After</c>, written before its request is read, and is closed: it
/// costs no request state at all. Health probes and scrapes (their request line is looked at first) are
/// let through. At the bound, the connection idle longest (no request in flight for at least
/// <see cref="EvictIdleAfter"/>: a keep-alive between requests, or one that never sent a request) is
/// closed to make room, so clients that open connections and stay silent cannot shut everyone else out
/// until Kestrel's keep-alive timeout. The place is taken from the client address holding the most connections
/// (a newcomer may take one only from an address that holds more than its own, or from its own), so a client
/// that reconnects as fast as it is evicted ends up evicting itself; optionally one address may hold at most
/// <see cref="MaxPerClient"/> (<c>429</c> past it). The bound is the limit over <see cref="BytesPerConnection"/>: about 196,000 with 24 GiB
/// (no bound in practice), 512 under a 64 MiB limit. A connection holds its state
/// (some 20 KiB), an I/O buffer or two and up to the read-ahead (a 2048th of the limit) of a body.
/// </summary>
internal sealed class ConnectionGate
{
    /// <summary>What the bound allows one connection: 128 KiB of the limit.</summary>
    public const long BytesPerConnection = 128 * 1024;

    private const string FullMessage = "the registry holds as many connections as it allows; retry later";
    private const string ShortOfMemoryMessage = "the registry is short of memory; retry later";
    private const string ClientFullMessage = "this client address holds as many connections as the registry allows one address; retry later";

    private static readonly Prometheus.Counter Refused = Prometheus.Metrics.CreateCounter(
        "registry_connections_refused_total",
        "Connections answered and closed before their first request, by reason: connection_limit (503, the edge held its bound), memory (503, heap pressure critical), client_limit (429, the client address held Registry:Edge:MaxConnectionsPerClient).",
        new Prometheus.CounterConfiguration { LabelNames = ["reason"] });

    private static readonly Prometheus.Counter.Child RefusedFull = Refused.WithLabels("connection_limit");
    private static readonly Prometheus.Counter.Child RefusedShortOfMemory = Refused.WithLabels("memory");
    private static readonly Prometheus.Counter.Child RefusedClientFull = Refused.WithLabels("client_limit");

    private static readonly Prometheus.Gauge Bound = Prometheus.Metrics.CreateGauge(
        "registry_connections_max",
        "The edge's connection bound: Registry:Edge:MaxConnections, or derived from the memory the GC may use and the file descriptor limit.");

    private static readonly Prometheus.Gauge OpenPlaces = Prometheus.Metrics.CreateGauge(
        "registry_connections_open",
        "Connections holding a place within the edge's bound now (health probes and scrapes let through past it are not counted).");

    private static readonly Prometheus.Counter Evicted = Prometheus.Metrics.CreateCounter(
        "registry_connections_evicted_total",
        "Idle connections (no request in flight for Registry:Edge:EvictIdleAfter) the edge closed to make room for a new one at its connection bound.");

    // The answers, made once: past the bound or short of memory, to a HEAD (no body) or anything else.
    private readonly byte[] _full;
    private readonly byte[] _fullToHead;
    private readonly byte[] _shortOfMemory;
    private readonly byte[] _shortOfMemoryToHead;
    private readonly byte[] _clientFull;
    private readonly byte[] _clientFullToHead;
    private readonly byte[] _fullBody;
    private readonly string _retryAfter;

    // The open connections, for the search of the idle one at the bound; the client addresses they come
    // from (an entry lives while a connection from it is open or opening; guarded by itself).
    private readonly ConcurrentDictionary<Slot, byte> _slots = new();
    private readonly Dictionary<IPAddress, Client> _clients = new();
    private readonly Client _unknownClient = new(IPAddress.None);
    private readonly long _evictIdleAfterMs;

    // Newcomers looking for a connection to evict, lightest address first, then first come.
    private readonly NewcomerQueue _queue = new(MaxQueued);
    private int _open;

    // The cancellations of the connections whose request line is being looked at, looked at longest first.
    private readonly LinkedList<CancellationTokenSource> _peekers = new();
    private int _probesOverBound;

    /// <summary>
    /// A gate of <paramref name="maxConnections"/> that closes a connection idle for <paramref name="evictIdleAfter"/>
    /// to make room; its refusals say Retry-After <paramref name="retryAfterSeconds"/> (the pipeline's setting).
    /// One client address may hold <paramref name="maxPerClient"/> connections (0: no such limit).
    /// </summary>
    public ConnectionGate(int maxConnections, int retryAfterSeconds, TimeSpan evictIdleAfter, int maxPerClient = 0)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConnections, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(evictIdleAfter, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfNegative(maxPerClient);
        MaxConnections = maxConnections;
        MaxPerClient = maxPerClient;
        Bound.Set(maxConnections);
        EvictIdleAfter = evictIdleAfter;
        _evictIdleAfterMs = (long)Math.Min(evictIdleAfter.TotalMilliseconds, long.MaxValue / 2);
        _full = Answer(FullMessage, retryAfterSeconds, head: false);
        _fullToHead = Answer(FullMessage, retryAfterSeconds, head: true);
        _shortOfMemory = Answer(ShortOfMemoryMessage, retryAfterSeconds, head: false);
        _shortOfMemoryToHead = Answer(ShortOfMemoryMessage, retryAfterSeconds, head: true);
        _clientFull = Answer(ClientFullMessage, retryAfterSeconds, head: false, tooManyRequests: true);
        _clientFullToHead = Answer(ClientFullMessage, retryAfterSeconds, head: true, tooManyRequests: true);
        _fullBody = Encoding.ASCII.GetBytes(ErrorBody("UNAVAILABLE", FullMessage));
        _retryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Connections the edge keeps open at once.</summary>
    public int MaxConnections { get; }

    /// <summary>Connections one client address may hold at once; 0: no such limit.</summary>
    public int MaxPerClient { get; }

    /// <summary>Connections open now.</summary>
    public int Open => Volatile.Read(ref _open);

    /// <summary>How long a connection must have had no request in flight before it may make room for a new one.</summary>
    public TimeSpan EvictIdleAfter { get; }

    /// <summary>The bound for a GC that may use <paramref name="limitBytes"/>: the limit over 128 KiB, at least 64.</summary>
    public static int MaxFor(long limitBytes) => (int)Math.Clamp(limitBytes / BytesPerConnection, 64, int.MaxValue);

    /// <summary>
    /// The bound for a process that may open <paramref name="descriptorLimit"/> descriptors and has
    /// <paramref name="open"/> open: half of what is left after a reserve of 128, since a connection may
    /// hold a second one (the blob file it sends or the upload file it writes); at least 16. No bound
    /// when the limit is unknown.
    /// </summary>
    public static int MaxForDescriptors(long? descriptorLimit, int open) => descriptorLimit is { } limit
        ? (int)Math.Clamp((limit - open - 128) / 2, 16, int.MaxValue)
        : int.MaxValue;

    /// <summary>The connection middleware: refuses past the bound, else passes the connection on and counts it.</summary>
    // The edge listens on plain HTTP (TLS ends in front of it); a TLS listener would need this after its handshake.
    // Behind a proxy every connection comes from its address: the client share then changes nothing.
    // TODO: addresses are not grouped by prefix: an IPv6 client can spread its connections over its /64.
    public ConnectionDelegate Wrap(ConnectionDelegate next) => async connection =>
    {
        var client = Join(connection.RemoteEndPoint);
        try
        {
            await RunAsync(connection, client, next);
        }
        finally
        {
            Leave(client);
        }
    };

    private async Task RunAsync(ConnectionContext connection, Client client, ConnectionDelegate next)
    {
        var placed = TryTakePlace(client);
        Opening? opening = null;
        if (placed != Refusal.Placed)
        {
            // At the bound the newcomer's request line is looked at first: a probe goes past the bound without
            // waiting its turn among newcomers, and one that has left, or has said nothing for ProbeWait, evicts
            // nobody.
            opening = await PeekBoundedAsync(connection);
            if (opening == Opening.Gone)
            {
                return;
            }

            // The place comes from the heaviest client address, at most the newcomer's own; past its own share
            // (MaxPerClient), only from its own. The evicted connection hands its place over as it closes, so its
            // client's reconnect cannot take it first.
            if (opening is not (Opening.Probe or Opening.Silent))
            {
                if (await TryEvictIdleAsync(connection, client, overBound: false, ownOnly: placed == Refusal.ClientFull))
                {
                    Interlocked.Increment(ref client.Held);
                    placed = Refusal.Placed;
                }
                else
                {
                    // The evicted connection may have closed on its own just before it could hand its place over.
                    placed = TryTakePlace(client);
                }
            }
        }
        else if (HeapPressure.Level == HeapPressureLevel.Critical)
        {
            // Short of memory, a placed connection serves a probe only.
            opening = await PeekBoundedAsync(connection);
            if (opening != Opening.Probe)
            {
                ReleasePlace(client);
                placed = Refusal.ShortOfMemory;
            }
        }

        if (placed != Refusal.Placed && opening != Opening.Probe)
        {
            var head = opening == Opening.Head;
            (placed switch
            {
                Refusal.ShortOfMemory => RefusedShortOfMemory,
                Refusal.ClientFull => RefusedClientFull,
                _ => RefusedFull,
            }).Inc();
            await RefuseAsync(connection, placed switch
            {
                Refusal.ShortOfMemory => head ? _shortOfMemoryToHead : _shortOfMemory,
                Refusal.ClientFull => head ? _clientFullToHead : _clientFull,
                _ => head ? _fullToHead : _full,
            });
            return;
        }

        if (placed != Refusal.Placed)
        {
            // A probe past the bound is let through, counted apart from the bound (so that it does not hold a
            // place an evicted connection frees); at most MaxProbesOverBound of them at once, or connections
            // that merely begin like a probe would hold every descriptor. Past that, the probe idle longest
            // (a probe line stalled mid-head, say) makes room for the new one.
            var admitted = TryTakeProbePlace() || (await TryEvictIdleAsync(connection, client, overBound: true, ownOnly: false) && TryTakeProbePlace());
            if (!admitted)
            {
                RefusedFull.Inc();
                await RefuseAsync(connection, _full);
                return;
            }
        }

        var slot = new Slot(connection, placed != Refusal.Placed, client);
        connection.Features.Set(slot);
        _slots.TryAdd(slot, 0);
        try
        {
            await next(connection);
        }
        finally
        {
            _slots.TryRemove(slot, out _);
            if (slot.OverBound)
            {
                Interlocked.Decrement(ref _probesOverBound);
            }
            else if (slot.TryHandOver())
            {
                // The newcomer that evicted this connection takes its place within the bound as it is.
                Interlocked.Decrement(ref client.Held);
            }
            else
            {
                ReleasePlace(client);
            }

            slot.Closed();
        }
    }

    // How a connection fared at the door: placed, or not for want of a place overall, of its address's share, or
    // of memory.
    private enum Refusal
    {
        Full,
        Placed,
        ClientFull,
        ShortOfMemory,
    }

    // The client address's entry, made on its first connection and dropped with its last.
    private Client Join(EndPoint? remote)
    {
        if (remote is not IPEndPoint { Address: var address })
        {
            return _unknownClient;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        lock (_clients)
        {
            if (!_clients.TryGetValue(address, out var client))
            {
                client = new Client(address);
                _clients.Add(address, client);
            }

            client.Connections++;
            return client;
        }
    }

    private void Leave(Client client)
    {
        if (client == _unknownClient)
        {
            return;
        }

        lock (_clients)
        {
            if (--client.Connections == 0)
            {
                _clients.Remove(client.Address);
            }
        }
    }

    private static async ValueTask RefuseAsync(ConnectionContext connection, byte[] answer)
    {
        try
        {
            await connection.Transport.Output.WriteAsync(answer, connection.ConnectionClosed);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ConnectionResetException)
        {
            // The client left first: nothing to tell it.
        }
    }

    // A place within the bound, and within the client address's share when there is one.
    private Refusal TryTakePlace(Client client)
    {
        var held = Interlocked.Increment(ref client.Held);
        var refusal = MaxPerClient > 0 && held > MaxPerClient ? Refusal.ClientFull
            : TryTake(ref _open, MaxConnections) ? Refusal.Placed
            : Refusal.Full;
        if (refusal == Refusal.Placed)
        {
            OpenPlaces.Inc();
        }
        else
        {
            Interlocked.Decrement(ref client.Held);
        }

        return refusal;
    }

    private void ReleasePlace(Client client)
    {
        Interlocked.Decrement(ref client.Held);
        Interlocked.Decrement(ref _open);
        OpenPlaces.Dec();
    }

    private bool TryTakeProbePlace() => TryTake(ref _probesOverBound, MaxProbesOverBound);

    private static bool TryTake(ref int count, int max)
    {
        if (Interlocked.Increment(ref count) <= max)
        {
            return true;
        }

        Interlocked.Decrement(ref count);
        return false;
    }

    // Looking at the request line holds the connection, and its descriptor, for up to ProbeWait: at most
    // MaxPeeking connections at once. Past that the one looked at longest (silent all that time) stops being
    // looked at, and is refused as silent, to make room: silent connections cannot keep a probe from being told apart.
    private async ValueTask<Opening> PeekBoundedAsync(ConnectionContext connection)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        wait.CancelAfter(ProbeWait);
        CancellationTokenSource? longest = null;
        LinkedListNode<CancellationTokenSource> mine;
        lock (_peekers)
        {
            if (_peekers.Count >= MaxPeeking && _peekers.First is { } first)
            {
                longest = first.Value;
                _peekers.RemoveFirst();
            }

            mine = _peekers.AddLast(wait);
        }

        try
        {
            longest?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Its look ended meanwhile.
        }

        try
        {
            return await PeekAsync(connection, wait.Token);
        }
        finally
        {
            lock (_peekers)
            {
                if (mine.List is not null)
                {
                    _peekers.Remove(mine);
                }
            }
        }
    }

    /// <summary>True when the request came on a connection let through past the bound as a probe or scrape.</summary>
    public static bool IsPastBound(Microsoft.AspNetCore.Http.HttpContext context) => context.Features.Get<Slot>()?.OverBound == true;

    /// <summary>
    /// Serves a request on a connection let through past the bound: a probe or scrape, after which the connection
    /// closes. Anything else (a connection that began with a probe line and went on with other requests) gets
    /// the bound's 503: a probe's way past the bound is not a way around it.
    /// </summary>
    public Task ServePastBoundAsync(Microsoft.AspNetCore.Http.HttpContext context, Microsoft.AspNetCore.Http.RequestDelegate next)
    {
        var response = context.Response;
        response.Headers.Connection = "close";
        var request = context.Request;
        var path = request.Path.Value;
        if (Microsoft.AspNetCore.Http.HttpMethods.IsGet(request.Method)
            && path is RegistryObservability.LivePath or RegistryObservability.ReadyPath or RegistryObservability.MetricsPath)
        {
            return RunBusyAsync(context, next);
        }

        RefusedFull.Inc();
        return OciErrorWriter.WriteRefusalAsync(context, Microsoft.AspNetCore.Http.StatusCodes.Status503ServiceUnavailable, _retryAfter, _fullBody);
    }

    /// <summary>Runs a request outside the OCI API (probes, scrapes) with its connection marked busy, so it is not closed as idle.</summary>
    public static async Task RunBusyAsync(Microsoft.AspNetCore.Http.HttpContext context, Microsoft.AspNetCore.Http.RequestDelegate next)
    {
        var slot = context.Features.Get<Slot>();
        slot?.Enter();
        try
        {
            await next(context);
        }
        finally
        {
            slot?.Exit();
        }
    }

    // Closes an idle connection, and waits a little for it to go. The close is graceful: a response still on its
    // way (a slow reader's last megabytes) is sent first, so a connection that takes longer than EvictionWait to
    // close does not make room for this one. Among the probes let through past the bound (overBound): the one
    // idle longest (its head not complete yet); its close frees a probe place. Within the bound: one of the client
    // address that holds the most, idle longest, whose close hands its place to this newcomer (true once it has);
    // a newcomer never takes a place from an address that holds no more than its own. Its own connections, and
    // those of an address that holds one more, must have been idle for EvictIdleAfter (two clients one place
    // apart would otherwise swap places back and forth); an address that holds two or more more gives up one
    // idle for ShortIdle, so that one reconnecting as fast as it is evicted (its connections never idle long)
    // cannot shut others out, while a busy client's keep-alive between two requests is left alone.
    // ownOnly: the newcomer's own address alone. Newcomers wait their turn: while one of an address holding
    // fewer (or as many, and come first) looks for a place, this one evicts nothing. Else addresses holding one
    // place each, reconnecting the moment one of their own comes of age, take every place before a newcomer
    // holding none can.
    private async ValueTask<bool> TryEvictIdleAsync(ConnectionContext connection, Client newcomer, bool overBound, bool ownOnly)
    {
        Slot? evicted = null;
        // Its place in the queue of newcomers waiting for a place: by the places its address held as it came,
        // then by arrival. Past its own share (ownOnly) it evicts only its own, so it waits on nobody.
        var ticket = overBound || ownOnly ? (long?)null : _queue.Enter(Volatile.Read(ref newcomer.Held));
        if (ticket == NewcomerQueue.Refused)
        {
            return false;
        }

        try
        {
            var deadline = Environment.TickCount64 + (long)(overBound ? EvictionWait : QueueWait).TotalMilliseconds;
            var waited = false;
            for (var attempt = 0; attempt < MaxEvictionAttempts && evicted is null; attempt++)
            {
                var left = deadline - Environment.TickCount64;
                var turn = ticket is { } queued ? _queue.TurnOf(queued) : NewcomerQueue.Turn.First;
                if (turn != NewcomerQueue.Turn.First)
                {
                    // Another newcomer goes first: this one waits its turn, within QueueWait, unless a lighter one
                    // has taken its place in a full queue.
                    if (turn == NewcomerQueue.Turn.Dropped || left <= 0)
                    {
                        return false;
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(left, QueuePollMs)));
                    continue;
                }

                var (victim, victimSince, soonest) = FindVictim(newcomer, overBound, ownOnly);
                if (victim is null)
                {
                    // Connections opened together (a client reconnecting as fast as it is evicted) are all young at
                    // once: when one of a heavier address comes of age within QueueWait, the newcomer waits for it,
                    // once (a busy client's connections, idle for a moment between requests, are not worth more).
                    if (waited || soonest > left)
                    {
                        return false;
                    }

                    waited = true;
                    var asleep = Environment.TickCount64;
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(soonest, 1)));
                    if (Environment.TickCount64 - asleep > Math.Max(soonest, 1) + OversleepTolerance.TotalMilliseconds)
                    {
                        // The process stalled meanwhile (a long pause, starved threads): its clients could not be
                        // answered or send either, so how long their connections have been idle says nothing now.
                        return false;
                    }

                    continue;
                }

                // A newcomer that has left while it waited evicts nobody.
                if (connection.ConnectionClosed.IsCancellationRequested)
                {
                    return false;
                }

                // Only if still idle since it was looked at: a request that began meanwhile keeps its place (and
                // another newcomer may have evicted it first: then the next one is looked for).
                evicted = victim.TryEvict(victimSince, promisePlace: !overBound) ? victim : null;
            }
        }
        finally
        {
            if (ticket is { } queued)
            {
                _queue.Leave(queued);
            }
        }

        if (evicted is null)
        {
            return false;
        }

        Evicted.Inc();

        // Kestrel closes a connection gracefully only between requests: one that has sent part of a request head (a
        // byte at a time, say) stays until the head times out. If it is owed nothing, it is cut: a probe past the
        // bound at once (it has not had its answer), any other after EvictionWait.
        var closed = (overBound && evicted.AbortIfNothingOwed() && await evicted.WaitClosedAsync(EvictionWait))
            || await evicted.WaitClosedAsync(EvictionWait)
            || (evicted.AbortIfNothingOwed() && await evicted.WaitClosedAsync(EvictionWait));
        return overBound ? closed : !evicted.TryWithdrawPlace();
    }

    // The connection to evict, its idle mark, and in how many milliseconds one of a heavier address would be idle
    // long enough (ShortIdle two or more ahead of the newcomer's, EvictIdleAfter one ahead; long.MaxValue if none).
    private (Slot? Victim, long Since, long Soonest) FindVictim(Client newcomer, bool overBound, bool ownOnly)
    {
        var now = Environment.TickCount64;
        // A probe past the bound that has not sent its whole head yet gives way to a newer one at once: a real probe's
        // head comes with its request line, and it is answered and closed within moments (a grace of even 20 ms let
        // a flood of stalled probe lines keep every place, the break test's 2-3 of 20 probes answered).
        var idleBefore = overBound ? now : now - _evictIdleAfterMs;
        var shortIdleMs = Math.Min(_evictIdleAfterMs, (long)ShortIdle.TotalMilliseconds);
        var shortIdleBefore = now - shortIdleMs;
        var own = Volatile.Read(ref newcomer.Held);
        Slot? victim = null;
        var victimSince = long.MaxValue;
        var victimHeld = -1;
        var soonest = long.MaxValue;
        foreach (var (slot, _) in _slots)
        {
            var since = slot.IdleSince;
            if (slot.OverBound != overBound || since == long.MaxValue)
            {
                continue;
            }

            var held = overBound ? 0 : Volatile.Read(ref slot.Client.Held);
            var mine = slot.Client == newcomer;
            var farAhead = !overBound && !mine && !ownOnly && held >= own + 2;
            var eligible = (overBound || mine || (!ownOnly && held > own)) && (since <= idleBefore || (farAhead && since <= shortIdleBefore));
            if (eligible && (held > victimHeld || (held == victimHeld && since < victimSince)))
            {
                (victim, victimSince, victimHeld) = (slot, since, held);
            }
            else if (!eligible && !overBound && !mine && !ownOnly && held > own)
            {
                soonest = Math.Min(soonest, since + (farAhead ? shortIdleMs : _evictIdleAfterMs) - now);
            }
        }

        return (victim, victimSince, soonest);
    }

    /// <summary>
    /// One open connection, as a connection feature: the edge marks each request in and out
    /// (<see cref="Enter"/>, <see cref="Exit"/>) so that the gate can tell an idle connection from a busy one.
    /// </summary>
    internal sealed class Slot
    {
        private const int EvictedMark = int.MinValue / 2;
        private readonly ConnectionContext _connection;
        private int _requests;
        private static readonly Client NoClient = new(IPAddress.None);
        private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private long _idleSince = Environment.TickCount64;
        private int _answered;

        // The place's hand-over to the newcomer that evicted the connection.
        private const int Promised = 1;
        private const int HandedOver = 2;
        private const int Withdrawn = 3;
        private int _handOver;

        public Slot(ConnectionContext connection, bool overBound = false, Client? client = null)
        {
            _connection = connection;
            OverBound = overBound;
            Client = client ?? NoClient;
        }

        /// <summary>The client address the connection comes from.</summary>
        public Client Client { get; }

        /// <summary>A probe or scrape let through past the bound (counted apart from it).</summary>
        public bool OverBound { get; }

        /// <summary>Since when (Environment.TickCount64) no request has been in flight; long.MaxValue while one is, or once evicted.</summary>
        public long IdleSince => Volatile.Read(ref _requests) == 0 ? Volatile.Read(ref _idleSince) : long.MaxValue;

        /// <summary>A request on this connection has begun.</summary>
        public void Enter() => Interlocked.Increment(ref _requests);

        /// <summary>A request on this connection has ended.</summary>
        public void Exit()
        {
            Interlocked.Increment(ref _answered);
            Volatile.Write(ref _idleSince, Environment.TickCount64);
            Interlocked.Decrement(ref _requests);
        }

        // Only a connection still idle since before the cut-off is closed: one whose request began after the
        // search looked at it keeps its place. With promisePlace its place goes to the evicting newcomer.
        public bool TryEvict(long idleBefore, bool promisePlace = false)
        {
            if (Volatile.Read(ref _idleSince) > idleBefore || Interlocked.CompareExchange(ref _requests, EvictedMark, 0) != 0)
            {
                return false;
            }

            if (promisePlace)
            {
                Volatile.Write(ref _handOver, Promised);
            }

            // Kestrel ends the connection once nothing is in flight on it, after what it still has to send.
            if (_connection.Features.Get<IConnectionLifetimeNotificationFeature>() is { } lifetime)
            {
                lifetime.RequestClose();
            }
            else
            {
                _connection.Abort(new ConnectionAbortedException("closed while idle to make room for a new connection at the edge's connection bound"));
            }

            return true;
        }

        /// <summary>
        /// Cuts the connection if it owes its client nothing: no request has reached the handler since the
        /// eviction, and it has never answered one or nothing of its last answer is left in the socket's send
        /// queue (Linux). False when a request is in flight or bytes are still on their way.
        /// </summary>
        public bool AbortIfNothingOwed()
        {
            // A request that reached the handler after the eviction (its head was on its way) is let finish.
            if (Volatile.Read(ref _requests) != EvictedMark || (Volatile.Read(ref _answered) > 0 && !SendQueueEmpty()))
            {
                return false;
            }

            _connection.Abort(new ConnectionAbortedException("closed to make room at the edge's connection bound: a request head was still incomplete"));
            return true;
        }

        private bool SendQueueEmpty()
        {
            if (!OperatingSystem.IsLinux() || _connection.Features.Get<IConnectionSocketFeature>()?.Socket is not { } socket)
            {
                return false;
            }

            try
            {
                return SocketQueue.Unsent(socket) == 0;
            }
            catch (ObjectDisposedException)
            {
                return true;
            }
        }

        /// <summary>The connection has closed (its middleware returned).</summary>
        public void Closed() => _closed.TrySetResult();

        /// <summary>On close: true when the place was promised to the newcomer that evicted this connection, which now has it.</summary>
        public bool TryHandOver() => Interlocked.CompareExchange(ref _handOver, HandedOver, Promised) == Promised;

        /// <summary>The newcomer gives up waiting: true when the promise is withdrawn, false when the place was handed over already.</summary>
        public bool TryWithdrawPlace() => Interlocked.CompareExchange(ref _handOver, Withdrawn, Promised) == Promised;

        /// <summary>Waits up to <paramref name="wait"/> for the connection to close; false when it is still open.</summary>
        public async ValueTask<bool> WaitClosedAsync(TimeSpan wait)
        {
            try
            {
                await _closed.Task.WaitAsync(wait);
                return true;
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }

    /// <summary>A client address: the connections it holds within the bound, and those open or opening from it.</summary>
    internal sealed class Client(IPAddress address)
    {
        /// <summary>Places within the bound held (changed with Interlocked).</summary>
        internal int Held;

        /// <summary>Connections open or opening (changed under the gate's lock of its clients).</summary>
        internal int Connections;

        public IPAddress Address { get; } = address;
    }

    // A health probe or a scrape gets through whatever the bound: a liveness probe refused because the
    // edge is full would have an orchestrator restart a process that is coping. The request line is
    // looked at without being consumed (Kestrel reads it again), waiting at most a second for it.
    private static async ValueTask<Opening> PeekAsync(ConnectionContext connection, CancellationToken wait)
    {
        var input = connection.Transport.Input;
        try
        {
            while (true)
            {
                var read = await input.ReadAsync(wait);
                var opening = OpeningOf(read.Buffer);
                input.AdvanceTo(read.Buffer.Start, opening is null ? read.Buffer.End : read.Buffer.Start);
                if (opening is { } known)
                {
                    return known;
                }

                if (read.IsCompleted)
                {
                    return read.Buffer.IsEmpty ? Opening.Gone : Opening.Other;
                }
            }
        }
        catch (OperationCanceledException) when (!connection.ConnectionClosed.IsCancellationRequested)
        {
            return Opening.Silent;
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or ConnectionResetException)
        {
            return Opening.Gone;
        }
    }

    // What a connection at the bound began with: a probe's request line, a HEAD, another request; nothing within
    // ProbeWait (or before a newer connection needed its place among those looked at), or it has left.
    private enum Opening
    {
        Probe,
        Head,
        Other,
        Silent,
        Gone,
    }

    private static readonly byte[] HeadStart = Encoding.ASCII.GetBytes("HEAD ");

    // What a connection's first bytes say it began with, or null while they do not tell yet.
    private static Opening? OpeningOf(ReadOnlySequence<byte> received) => IsProbe(received) switch
    {
        true => Opening.Probe,
        false => received.Length >= HeadStart.Length && received.FirstSpan.StartsWith(HeadStart) ? Opening.Head : Opening.Other,
        null => null,
    };

    private static string ErrorBody(string code, string message) =>
        $"{{\"errors\":[{{\"code\":\"{code}\",\"message\":\"{message}\",\"detail\":null}}]}}";

    private static byte[] Answer(string message, int retryAfterSeconds, bool head, bool tooManyRequests = false)
    {
        var (code, status) = tooManyRequests ? ("TOOMANYREQUESTS", "429 Too Many Requests") : ("UNAVAILABLE", "503 Service Unavailable");
        var body = ErrorBody(code, message);
        return Encoding.ASCII.GetBytes(
            $"HTTP/1.1 {status}\r\nRetry-After: {retryAfterSeconds}\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + $"{OciHeaders.ApiVersion}: {OciHeaders.ApiVersionValue}\r\nContent-Length: {body.Length}\r\n\r\n{(head ? string.Empty : body)}");
    }

    /// <summary>Connections past the bound whose request line is looked at, at most, at once.</summary>
    internal const int MaxPeeking = 64;

    /// <summary>Health probes and scrapes let through past the bound, at most, at once.</summary>
    internal const int MaxProbesOverBound = 16;

    /// <summary>How long a new connection at the bound waits for the idle connection it evicted to close.</summary>
    internal static readonly TimeSpan EvictionWait = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// How long a new connection at the bound waits for its turn among newcomers and for a connection it may evict
    /// to come of age.
    /// </summary>
    internal static readonly TimeSpan QueueWait = TimeSpan.FromSeconds(1);

    /// <summary>How much longer than asked a newcomer's wait may take before it counts as the process having stalled.</summary>
    internal static readonly TimeSpan OversleepTolerance = TimeSpan.FromMilliseconds(100);

    /// <summary>Newcomers waiting for a place at the bound, at most, at once.</summary>
    internal const int MaxQueued = 64;

    /// <summary>How often a newcomer waiting its turn looks again, in milliseconds.</summary>
    private const int QueuePollMs = 10;

    /// <summary>Looks for a connection to evict, at most, per newcomer (within QueueWait).</summary>
    private const int MaxEvictionAttempts = 128;

    /// <summary>How long a connection of an address holding two or more more than the newcomer's must have been idle to be evicted.</summary>
    internal static readonly TimeSpan ShortIdle = TimeSpan.FromMilliseconds(250);

    /// <summary>How long a connection past the bound may take to send its request line.</summary>
    internal static readonly TimeSpan ProbeWait = TimeSpan.FromSeconds(1);

    private static readonly byte[][] ProbeStarts =
    [
        Encoding.ASCII.GetBytes("GET " + RegistryObservability.LivePath),
        Encoding.ASCII.GetBytes("GET " + RegistryObservability.ReadyPath),
        Encoding.ASCII.GetBytes("GET " + RegistryObservability.MetricsPath + " "),
        Encoding.ASCII.GetBytes("GET " + RegistryObservability.MetricsPath + "?"),
    ];

    /// <summary>True when the bytes begin a probe's request line, false when they cannot, null when too few have come to tell.</summary>
    internal static bool? IsProbe(ReadOnlySequence<byte> received)
    {
        Span<byte> head = stackalloc byte[32];
        var length = (int)Math.Min(received.Length, head.Length);
        received.Slice(0, length).CopyTo(head);
        head = head[..length];
        var undecided = false;
        foreach (var start in ProbeStarts)
        {
            if (head.Length >= start.Length)
            {
                if (head.StartsWith(start))
                {
                    return true;
                }
            }
            else if (start.AsSpan().StartsWith(head))
            {
                undecided = true;
            }
        }

        return undecided ? null : false;
    }
}
