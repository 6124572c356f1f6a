using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Registry.Storage;

namespace Registry.Blob.Downloads;

/// <summary>
/// A minimal HTTP/1.1 server on raw sockets that sends blob files with sendfile to clients holding a
/// signed URL (the edge redirects large blob GETs here). Bounded: connections, request head size, idle
/// time. On stop it accepts nothing more, closes idle connections, lets transfers finish until the host's
/// shutdown timeout, then cuts the rest.
/// </summary>
internal sealed partial class DirectDownloadServer : IHostedService, IDisposable
{
    private static readonly byte[] AtCapacityResponse = BuildAtCapacityResponse();

    private readonly IStorageDriver _storage;
    private readonly DownloadSigner _signer;
    private readonly DirectDownloadOptions _options;
    private readonly ILogger<DirectDownloadServer> _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly CancellationTokenSource _aborting = new();
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Open connections, for TryEvictWaiting; and how many each client address holds, for MaxConnectionsPerClient.
    private readonly ConcurrentDictionary<DownloadConnection, byte> _open = new();
    private readonly ConcurrentDictionary<IPAddress, int> _perClient = new();

    private Socket? _listener;
    private Task? _acceptLoop;
    private int _active;

    // Touched by the accept loop only.
    private long _lastCapacityWarning = long.MinValue / 2;
    private long _refusedSinceWarning;

    public DirectDownloadServer(
        IStorageDriver storage,
        DownloadSigner signer,
        IOptions<DirectDownloadOptions> options,
        ILogger<DirectDownloadServer> logger)
    {
        _storage = storage;
        _signer = signer;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>The base URL put in redirects, e.g. "http://127.0.0.1:41234"; null until the server listens.</summary>
    public string? PublicBaseUrl { get; private set; }

    /// <summary>
    /// True when every connection slot is taken: a redirect now would only earn the client a 503, so
    /// the edge serves the blob itself instead.
    /// </summary>
    public bool IsFull => Volatile.Read(ref _active) >= _options.MaxConnections;

    /// <summary>The address the server listens on; null until it listens.</summary>
    public IPEndPoint? BoundEndPoint { get; private set; }

    /// <summary>Connections open now.</summary>
    public int ActiveConnections => Volatile.Read(ref _active);

    internal DirectDownloadOptions Options => _options;

    internal DownloadSigner Signer => _signer;

    internal IStorageDriver Storage => _storage;

    /// <summary>Cancelled when the server starts stopping.</summary>
    internal CancellationToken Stopping => _stopping.Token;

    /// <summary>Cancelled when shutdown has no time left for transfers.</summary>
    internal CancellationToken Aborting => _aborting.Token;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        DownloadMetrics.Publish();
        var endpoint = DirectDownloadEndpoint.ParseListenUrl(_options.Url);
        var listener = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endpoint.Address.Equals(IPAddress.IPv6Any))
            {
                listener.DualMode = true;
            }

            listener.Bind(endpoint);
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        BoundEndPoint = (IPEndPoint)listener.LocalEndPoint!;
        PublicBaseUrl = DirectDownloadEndpoint.PublicBase(_options.PublicUrl, BoundEndPoint);
        _acceptLoop = AcceptLoopAsync(listener);
        Log.Listening(_logger, BoundEndPoint.ToString(), PublicBaseUrl);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_listener is null || _stopping.IsCancellationRequested)
        {
            return;
        }

        // Stop accepting and close idle connections; transfers in progress go on.
        await _stopping.CancelAsync();
        _listener.Dispose();
        if (_acceptLoop is not null)
        {
            await _acceptLoop;
        }

        if (Volatile.Read(ref _active) == 0)
        {
            _drained.TrySetResult();
        }

        try
        {
            await _drained.Task.WaitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            Log.ShutdownCutTransfers(_logger, Volatile.Read(ref _active));
            await _aborting.CancelAsync();
            // Closing the sockets ends every send at once; the bound only guards against a bug here.
            await _drained.Task.WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _stopping.Dispose();
        _aborting.Dispose();
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await listener.AcceptAsync(_stopping.Token);
            }
            catch (Exception ex) when (_stopping.IsCancellationRequested && ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Out of descriptors and the like: back off a little instead of spinning.
                Log.AcceptFailed(_logger, ex);
                await Task.Delay(100, CancellationToken.None);
                continue;
            }

            var client = (socket.RemoteEndPoint as IPEndPoint)?.Address;
            if (!TryTakeClientPlace(client))
            {
                // One address may hold only part of the places, so it cannot shut everyone else out.
                DownloadMetrics.Rejections.WithLabels("client_limit").Inc();
                RejectAtCapacity(socket);
                continue;
            }

            if (Interlocked.Increment(ref _active) > _options.MaxConnections && !TryEvictWaiting())
            {
                ReleaseClientPlace(client);
                Interlocked.Decrement(ref _active);
                DownloadMetrics.Rejections.WithLabels("connection_limit").Inc();
                RejectAtCapacity(socket);
                WarnAtCapacity();
                continue;
            }

            DownloadMetrics.Connections.Inc();
            socket.NoDelay = true;
            _ = RunConnectionAsync(socket, client);
        }
    }

    // At the limit, the connection that has waited longest for a request head (for at least EvictWaitingAfter)
    // makes room for the new one: idle keep-alive connections and heads trickled in a byte at a time
    // cannot hold every place until the idle timeout. It closes at once; until it has, the count runs
    // over the limit by the connections being closed.
    private bool TryEvictWaiting()
    {
        var waitingBefore = Environment.TickCount64 - (long)_options.EvictWaitingAfter.TotalMilliseconds;
        DownloadConnection? oldest = null;
        var oldestSince = long.MaxValue;
        foreach (var connection in _open.Keys)
        {
            var since = connection.WaitingSince;
            if (since > 0 && since <= waitingBefore && since < oldestSince)
            {
                (oldest, oldestSince) = (connection, since);
            }
        }

        if (oldest is null || !oldest.TryEvict(waitingBefore))
        {
            return false;
        }

        DownloadMetrics.Evictions.Inc();
        return true;
    }

    private bool TryTakeClientPlace(IPAddress? client)
    {
        if (client is null || _options.MaxConnectionsPerClient <= 0)
        {
            return true;
        }

        var held = _perClient.AddOrUpdate(client, 1, static (_, count) => count + 1);
        if (held <= _options.MaxConnectionsPerClient)
        {
            return true;
        }

        ReleaseClientPlace(client);
        return false;
    }

    private void ReleaseClientPlace(IPAddress? client)
    {
        if (client is null || _options.MaxConnectionsPerClient <= 0)
        {
            return;
        }

        // The accept loop alone adds; this may run on any thread, so the entry goes only when it reads zero.
        var left = _perClient.AddOrUpdate(client, 0, static (_, count) => count - 1);
        if (left <= 0)
        {
            _perClient.TryRemove(new KeyValuePair<IPAddress, int>(client, 0));
        }
    }

    private async Task RunConnectionAsync(Socket socket, IPAddress? client)
    {
        var connection = new DownloadConnection(socket, this, _logger);
        _open.TryAdd(connection, 0);
        try
        {
            await connection.RunAsync();
        }
        catch (Exception ex)
        {
            Log.ConnectionCrashed(_logger, ex);
        }
        finally
        {
            ReleaseClientPlace(client);
            _open.TryRemove(connection, out _);
            connection.Dispose();
            DownloadMetrics.Connections.Dec();
            if (Interlocked.Decrement(ref _active) == 0 && _stopping.IsCancellationRequested)
            {
                _drained.TrySetResult();
            }
        }
    }

    // At most one warning every 10 s, with the count refused since the one before: a flood of connections
    // must not become a flood of log lines.
    private void WarnAtCapacity()
    {
        _refusedSinceWarning++;
        var now = Environment.TickCount64;
        if (now - _lastCapacityWarning < 10_000)
        {
            return;
        }

        _lastCapacityWarning = now;
        Log.AtCapacity(_logger, _options.MaxConnections, _refusedSinceWarning);
        _refusedSinceWarning = 0;
    }

    // Over the limit: a 503 written straight into the new socket's empty send buffer, then close.
    private static void RejectAtCapacity(Socket socket)
    {
        try
        {
            socket.Blocking = false;
            socket.Send(AtCapacityResponse, SocketFlags.None, out _);
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The client is gone already.
        }
        finally
        {
            socket.Dispose();
        }
    }

    private static byte[] BuildAtCapacityResponse()
    {
        Span<byte> buffer = stackalloc byte[1024];
        var writer = new ResponseHeadWriter(buffer);
        DownloadError.AtCapacity.Write(ref writer, keepAlive: false, withBody: true);
        return buffer[..writer.Length].ToArray();
    }
}
