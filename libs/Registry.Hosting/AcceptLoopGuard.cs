using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace Registry.Hosting;

/// <summary>
/// Keeps Kestrel accepting. Kestrel's accept loop ends for good on the first exception its listener
/// throws ("The connection listener failed to accept any new connections"), and the process lives on
/// answering no one: seen under a 64 MiB heap hard limit, where making the accepted socket's connection
/// object failed to allocate. This transport wraps the real one (<paramref name="inner"/>): a failed
/// accept is counted, logged at most once per 10 seconds, waited out for 50 ms and tried again.
/// </summary>
public sealed partial class AcceptLoopGuard(IConnectionListenerFactory inner, ILogger<AcceptLoopGuard> logger)
    : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private static readonly Prometheus.Counter Failures = Prometheus.Metrics.CreateCounter(
        "registry_accept_failures_total",
        "Accepts of a new connection that failed inside the server (an allocation under a heap limit, say) and were tried again instead of ending the accept loop.");

    /// <summary>How long a failed accept is waited out before the next.</summary>
    public static readonly TimeSpan Backoff = TimeSpan.FromMilliseconds(50);

    /// <inheritdoc/>
    public bool CanBind(EndPoint endpoint) => inner is not IConnectionListenerFactorySelector selector || selector.CanBind(endpoint);

    /// <inheritdoc/>
    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new Listener(await inner.BindAsync(endpoint, cancellationToken).ConfigureAwait(false), logger);

    private sealed class Listener(IConnectionListener inner, ILogger logger) : IConnectionListener
    {
        private long _lastWarning = long.MinValue / 2;
        private long _failedSinceWarning;

        public EndPoint EndPoint => inner.EndPoint;

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            while (true)
            {
                try
                {
                    return await inner.AcceptAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    throw;
                }
                catch (Exception ex)
                {
                    Failures.Inc();
                    Warn(ex);
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
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => inner.UnbindAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();

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
                Log.AcceptFailed(logger, EndPoint.ToString() ?? string.Empty, _failedSinceWarning, exception);
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
    }
}
