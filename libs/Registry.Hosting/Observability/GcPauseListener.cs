using System.Diagnostics.Tracing;
using Prometheus;

namespace Registry.Hosting.Observability;

/// <summary>
/// Measures every GC pause from the runtime's own events: the time from "suspend the execution engine
/// begins" to "restart the execution engine ends" is what managed threads stood still. Each pause is
/// observed into <c>registry_gc_pause_seconds</c>, whose buckets are fine around one millisecond so
/// that the p99 pause can be read. Pauses of collections someone asked for (<c>GC.Collect</c>: the idle
/// trim, a heap dump) go to <c>registry_gc_induced_pause_seconds</c> instead: they are not what load
/// costs, and the idle trim's full collection would otherwise pose as the worst pause under load.
/// </summary>
internal sealed class GcPauseListener : EventListener
{
    private const string RuntimeSourceName = "Microsoft-Windows-DotNETRuntime";
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private const int GcStartId = 1;
    private const int GcRestartEeEndId = 3;
    private const int GcSuspendEeEndId = 8;
    private const int GcSuspendEeBeginId = 9;

    private static readonly Histogram Pauses = Metrics.CreateHistogram(
        "registry_gc_pause_seconds",
        "Each GC pause (execution engine suspended until restarted), in seconds.",
        new HistogramConfiguration
        {
            Buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
        });

    private static readonly Histogram Suspensions = Metrics.CreateHistogram(
        "registry_gc_suspension_seconds",
        "The first part of each GC pause in registry_gc_pause_seconds: from asking managed threads to stop until all had stopped, in seconds.",
        new HistogramConfiguration
        {
            Buckets = [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1],
        });

    private static readonly Histogram InducedPauses = Metrics.CreateHistogram(
        "registry_gc_induced_pause_seconds",
        "Each pause of a collection that was asked for (GC.Collect: the idle trim, heap dumps), in seconds.",
        new HistogramConfiguration
        {
            Buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
        });

    // Events are dispatched one at a time on the listener's thread, so these need no locking.
    private long _suspendTicks;
    private long _suspensionTicks;
    private bool _suspended;
    private bool _induced;

    /// <summary>Starts listening; the series is exported at once, with zero pauses, before the first GC.</summary>
    public GcPauseListener()
    {
        Pauses.Publish();
        Suspensions.Publish();
        InducedPauses.Publish();
    }

    /// <summary>Pauses measured since the listener started (for tests).</summary>
    public long PauseCount => (long)Pauses.Count;

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == RuntimeSourceName)
        {
            EnableEvents(eventSource, EventLevel.Informational, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        switch (eventData.EventId)
        {
            case GcSuspendEeBeginId:
                _suspendTicks = eventData.TimeStamp.Ticks;
                _suspensionTicks = -1;
                _suspended = true;
                _induced = false;
                break;
            case GcSuspendEeEndId when _suspended:
                _suspensionTicks = eventData.TimeStamp.Ticks - _suspendTicks;
                break;
            case GcStartId when _suspended:
                _induced |= IsInduced(eventData);
                break;
            case GcRestartEeEndId when _suspended:
                _suspended = false;
                var ticks = eventData.TimeStamp.Ticks - _suspendTicks;
                if (ticks >= 0)
                {
                    (_induced ? InducedPauses : Pauses).Observe(ticks / (double)TimeSpan.TicksPerSecond);
                }

                if (!_induced && _suspensionTicks >= 0 && _suspensionTicks <= ticks)
                {
                    Suspensions.Observe(_suspensionTicks / (double)TimeSpan.TicksPerSecond);
                }

                break;
        }
    }

    // GCStart's "Reason": 1 induced, 7 induced but not forced, 9 induced for low memory, 10 induced
    // compacting, 17 induced aggressive (GCCollectionMode.Aggressive, what the idle trim asks for).
    private static bool IsInduced(EventWrittenEventArgs eventData)
    {
        var index = eventData.PayloadNames?.IndexOf("Reason") ?? -1;
        return index >= 0
            && eventData.Payload?[index] is { } reason
            && Convert.ToUInt32(reason, System.Globalization.CultureInfo.InvariantCulture) is 1 or 7 or 9 or 10 or 17;
    }
}
