using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Registry.Hosting;

/// <summary>
/// Keeps Kestrel accepting. Kestrel's accept loop ends for good on the first exception its listener
/// throws ("The connection listener failed to accept any new connections"), and the process lives on
/// answering no one: seen under a 64 MiB heap hard limit, where making the accepted socket's connection
/// object failed to allocate. This transport wraps the real one (<paramref name="inner"/>): a failed
/// accept is counted, logged at most once per 10 seconds, waited out for 50 ms and tried again. Kestrel
/// can also fail after an accept has returned (registering the new connection), where nothing can catch
/// it: a listener that has not been asked for a connection for <see cref="StallAfter"/> while bound has
/// lost its accept loop, and <paramref name="onStalled"/> is called (the registry logs Critical and
/// stops with exit status 1, so that its supervisor restarts it).
/// </summary>
public sealed partial class AcceptLoopGuard(IConnectionListenerFactory inner, ILogger<AcceptLoopGuard> logger, Action<EndPoint> onStalled)
    : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private static readonly Prometheus.Counter Failures = Prometheus.Metrics.CreateCounter(
        "registry_accept_failures_total",
        "Accepts of a new connection that failed inside the server (an allocation under a heap limit, say) and were tried again instead of ending the accept loop.");

    /// <summary>How long a failed accept is waited out before the next.</summary>
    public static readonly TimeSpan Backoff = TimeSpan.FromMilliseconds(50);

    /// <summary>How long a bound listener may go without an accept waiting on it before its loop counts as lost.</summary>
    public static readonly TimeSpan StallAfter = TimeSpan.FromSeconds(10);

    /// <summary>How close to the descriptor limit an accepted connection's descriptor makes the next accept count first.</summary>
    public const int NearLimitMargin = 2 * DescriptorReserve.DefaultSize;

    /// <summary>How often a listener waiting for a connection checks that the process has a descriptor left.</summary>
    public static readonly TimeSpan DescriptorCheck = TimeSpan.FromMilliseconds(200);

    /// <inheritdoc/>
    public bool CanBind(EndPoint endpoint) => inner is not IConnectionListenerFactorySelector selector || selector.CanBind(endpoint);

    /// <inheritdoc/>
    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new Listener(await inner.BindAsync(endpoint, cancellationToken).ConfigureAwait(false), logger, onStalled, StallAfter);

    /// <summary>The guard's listener; internal for tests, which give it a short stall time.</summary>
    internal sealed class Listener : IConnectionListener
    {
        private readonly IConnectionListener _inner;
        private readonly ILogger _logger;
        private readonly Action<EndPoint> _onStalled;
        private readonly long _stallAfterMs;
        private readonly Timer _watch;
        private readonly Timer? _descriptors;
        private readonly Func<bool> _descriptorFree;
        private long _lastWarning = long.MinValue / 2;

        // The accept waiting on the inner listener, cancelled when the process has no descriptor left: Kestrel's
        // socket listener takes EMFILE for a connection reset in the backlog and calls accept again at once, at
        // 100 % CPU, for as long as no descriptor comes free.
        private CancellationTokenSource? _pending;
        private long _failedSinceWarning;

        // The soft descriptor limit (0: unknown), and whether the last connection accepted came close to it: the
        // kernel hands out the lowest free descriptor, so one numbered within NearLimit of the limit leaves fewer
        // than NearLimit free, and the next accept waits for the reserve's count first.
        private long _softLimit = OperatingSystem.IsLinux() ? DescriptorLimit.Soft ?? 0 : 0;
        private int _nearLimit;

        // The loop's trace: whether an accept is waiting on this listener, when the last one returned, and
        // the return a check found stalled (a second check must find the same one: a thread held up by a
        // long GC pause resumes its loop at once).
        private int _accepting;
        private int _ended;
        private long _lastReturn = Environment.TickCount64;
        private long _suspect;

        /// <summary>
        /// Guards <paramref name="inner"/>: calls <paramref name="onStalled"/> when no accept has waited on it for
        /// <paramref name="stallAfter"/>, and logs to <paramref name="logger"/>. <paramref name="descriptorFree"/> tells
        /// whether the process can open a file now (null: /dev/null is opened to tell, on Linux).
        /// </summary>
        public Listener(IConnectionListener inner, ILogger logger, Action<EndPoint> onStalled, TimeSpan stallAfter, Func<bool>? descriptorFree = null)
        {
            _descriptorFree = descriptorFree ?? DescriptorFree;
            _inner = inner;
            _logger = logger;
            _onStalled = onStalled;
            _stallAfterMs = (long)stallAfter.TotalMilliseconds;
            var period = TimeSpan.FromMilliseconds(Math.Max(10, _stallAfterMs / 10));
            _watch = new Timer(static state => ((Listener)state!).Check(), this, period, period);
            if (OperatingSystem.IsLinux() || descriptorFree is not null)
            {
                _descriptors = new Timer(static state => ((Listener)state!).CheckDescriptors(), this, DescriptorCheck, DescriptorCheck);
            }
        }

        public EndPoint EndPoint => _inner.EndPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            Volatile.Write(ref _accepting, 1);
            try
            {
                var connection = await AcceptOnceAsync(cancellationToken).ConfigureAwait(false);
                if (connection is null)
                {
                    // Unbound: the loop ends as it should.
                    End();
                }

                return connection;
            }
            finally
            {
                Volatile.Write(ref _lastReturn, Environment.TickCount64);
                Volatile.Write(ref _accepting, 0);
            }
        }

        private async ValueTask<ConnectionContext?> AcceptOnceAsync(CancellationToken cancellationToken)
        {
            while (Volatile.Read(ref _ended) == 0)
            {
                if (Interlocked.Exchange(ref _nearLimit, 0) == 1 && !_descriptorFree())
                {
                    await WaitForDescriptorAsync(cancellationToken, failed: false).ConfigureAwait(false);
                    continue;
                }

                using var pending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                Volatile.Write(ref _pending, pending);
                try
                {
                    var connection = await _inner.AcceptAsync(pending.Token).ConfigureAwait(false);
                    if (connection is not null && NearLimit(connection))
                    {
                        Volatile.Write(ref _nearLimit, 1);
                    }

                    if (connection is not null || !pending.IsCancellationRequested || cancellationToken.IsCancellationRequested
                        || Volatile.Read(ref _ended) == 1)
                    {
                        return connection;
                    }

                    // Cancelled for want of a descriptor (the inner listener may answer that with null).
                    await WaitForDescriptorAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (OperationCanceledException) when (pending.IsCancellationRequested)
                {
                    await WaitForDescriptorAsync(cancellationToken).ConfigureAwait(false);
                    continue;
                }
                catch (Exception ex)
                {
                    Failures.Inc();
                    Warn(ex);
                }
                finally
                {
                    Interlocked.CompareExchange(ref _pending, null, pending);
                }

                try
                {
                    await Task.Delay(Backoff, cancellationToken).ConfigureAwait(false);
                }
                catch (OutOfMemoryException)
                {
                    // Not even a timer to spare: wait on this thread instead, briefly.
                    Thread.Sleep(Backoff);
                }
            }

            return null;
        }

        // Out of descriptors (failed: counted as a failed accept), or too close to running out: no accept is tried
        // until enough are free again.
        private async Task WaitForDescriptorAsync(CancellationToken cancellationToken, bool failed = true)
        {
            if (failed)
            {
                Failures.Inc();
            }

            Warn(new IOException(failed
                ? "no file descriptor is free for a new connection (EMFILE); accepting again once enough are"
                : "too few file descriptors are free to accept another connection safely; accepting again once enough are"));
            // Unbound meanwhile (a shutdown out of descriptors): the loop ends instead.
            while (Volatile.Read(ref _ended) == 0 && !_descriptorFree())
            {
                await Task.Delay(Backoff, cancellationToken).ConfigureAwait(false);
            }
        }

        private void CheckDescriptors()
        {
            if (OperatingSystem.IsLinux() && DescriptorLimit.Soft is { } soft)
            {
                Volatile.Write(ref _softLimit, soft);
            }

            if (Volatile.Read(ref _pending) is { } pending && !_descriptorFree())
            {
                try
                {
                    pending.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // That accept returned meanwhile.
                }
            }
        }

        private bool NearLimit(ConnectionContext connection) =>
            Volatile.Read(ref _softLimit) is > 0 and var soft
            && connection.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket is { } socket
            && (long)socket.Handle >= soft - NearLimitMargin;

        // Whether the process has descriptors to spare for a new connection (DescriptorReserve).
        private static bool DescriptorFree() => !OperatingSystem.IsLinux() || DescriptorReserve.Process.AcceptsMayGoOn();

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
        {
            End();
            return _inner.UnbindAsync(cancellationToken);
        }

        public ValueTask DisposeAsync()
        {
            End();
            return _inner.DisposeAsync();
        }

        private void End()
        {
            Volatile.Write(ref _ended, 1);
            _watch.Dispose();
            _descriptors?.Dispose();
        }

        private void Check()
        {
            try
            {
                var last = Volatile.Read(ref _lastReturn);
                if (Volatile.Read(ref _ended) == 1 || Volatile.Read(ref _accepting) == 1 || Environment.TickCount64 - last < _stallAfterMs)
                {
                    _suspect = 0;
                    return;
                }

                if (_suspect != last)
                {
                    _suspect = last;
                    return;
                }

                End();
                Log.AcceptLoopLost(_logger, EndPoint.ToString() ?? string.Empty, _stallAfterMs / 1000);
                _onStalled(EndPoint);
            }
            catch (OutOfMemoryException)
            {
                // The next check tries again.
            }
        }

        private void Warn(Exception exception)
        {
            _failedSinceWarning++;
            var now = Environment.TickCount64;
            if (now - _lastWarning < 10_000)
            {
                return;
            }

            _lastWarning = now;
            try
            {
                Log.AcceptFailed(_logger, EndPoint.ToString() ?? string.Empty, _failedSinceWarning, exception);
            }
            catch (OutOfMemoryException)
            {
                // The line is lost; the counter has it.
            }

            _failedSinceWarning = 0;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 150, EventName = "AcceptFailed", Level = LogLevel.Warning,
            Message = "Accepting a connection on {Endpoint} failed ({Failures} since the last warning); accepting goes on after 50 ms")]
        public static partial void AcceptFailed(ILogger logger, string endpoint, long failures, Exception exception);

        [LoggerMessage(EventId = 151, EventName = "AcceptLoopLost", Level = LogLevel.Critical,
            Message = "Kestrel has not accepted on {Endpoint} for {Seconds} s while bound: its accept loop has ended (see the log line before); the registry stops so that its supervisor restarts it")]
        public static partial void AcceptLoopLost(ILogger logger, string endpoint, long seconds);
    }
}
