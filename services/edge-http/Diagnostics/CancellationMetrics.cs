using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Registry.EdgeHttp.Diagnostics;

/// <summary>
/// Measures how quickly the work behind a request stops once its client goes away: the time from the
/// abort signal to the moment the request's handler, and with it every gRPC and storage call it awaited,
/// has finished. Published on the "Registry.EdgeHttp" meter.
/// </summary>
internal sealed class CancellationMetrics : IDisposable
{
    /// <summary>The meter every edge instrument hangs on.</summary>
    public const string MeterName = "Registry.EdgeHttp";

    /// <summary>The bound the mission sets: work stops within this long of a disconnect.</summary>
    public static readonly TimeSpan Target = TimeSpan.FromMilliseconds(100);

    private readonly Meter _meter;
    private readonly Histogram<double> _stopDuration;
    private readonly Counter<long> _aborted;
    private readonly Counter<long> _late;

    public CancellationMetrics(IMeterFactory meters)
    {
        _meter = meters.Create(MeterName);
        _stopDuration = _meter.CreateHistogram<double>(
            "registry.edge.cancellation.stop.duration",
            unit: "s",
            description: "Time from a client's disconnect to the end of the work behind its request.",
            advice: new InstrumentAdvice<double>
            {
                HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
            });
        _aborted = _meter.CreateCounter<long>(
            "registry.edge.requests.aborted", description: "Requests whose client went away before the answer was complete.");
        _late = _meter.CreateCounter<long>(
            "registry.edge.cancellation.late", description: "Aborted requests whose work took longer than 100 ms to stop.");
    }

    /// <summary>Records one aborted request, given the timestamp (Stopwatch ticks) of its abort signal.</summary>
    public void RecordStopped(long abortedAt, string operation)
    {
        var elapsed = Stopwatch.GetElapsedTime(abortedAt);
        var tag = new KeyValuePair<string, object?>("operation", operation);
        _aborted.Add(1, tag);
        _stopDuration.Record(elapsed.TotalSeconds, tag);
        if (elapsed > Target)
        {
            _late.Add(1, tag);
        }
    }

    public void Dispose() => _meter.Dispose();
}
