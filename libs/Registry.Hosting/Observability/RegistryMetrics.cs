using Prometheus;

namespace Registry.Hosting.Observability;

/// <summary>
/// Process-wide set-up of prometheus-net, done once before anything touches the default registry:
/// process metrics stay (sampled by <see cref="ProcessStats"/>), the event-counter bridge goes (the runtime metrics here replace it at a
/// fraction of the cost), and only System.Diagnostics.Metrics instruments of meters whose name starts
/// with "Registry" are exported (<see cref="MeterBridge"/>), so the framework's own per-request
/// instruments cost nothing.
/// </summary>
public static class RegistryMetrics
{
    /// <summary>Meters whose name starts with this prefix are exported on /metrics.</summary>
    public const string MeterPrefix = "Registry";

    private static readonly Lock Gate = new();
    private static bool _configured;

    // Held for the life of the process.
    private static MeterBridge? _meters;

    /// <summary>Configures prometheus-net and starts the runtime metrics; later calls do nothing.</summary>
    public static void EnsureConfigured()
    {
        lock (Gate)
        {
            if (_configured)
            {
                return;
            }

            _configured = true;
            Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions
            {
                SuppressEventCounters = true,
                SuppressDebugMetrics = true,
                // prometheus-net's own meter bridge records nothing on .NET 10 here; MeterBridge replaces it.
                SuppressMeters = true,
                // Replaced by ProcessStats (same names), which needs no new descriptor to sample.
                SuppressProcessMetrics = true,
            });
            RuntimeMetrics.Start(Metrics.DefaultRegistry, ProcessStats.Register(Metrics.DefaultRegistry));
            _meters = new MeterBridge(MeterPrefix, Metrics.DefaultRegistry);

            // Shown at 0 from the start, so an alert on it has a series before the first full disk.
            StorageFull.PublishCounter();
            OutOfDescriptors.PublishCounter();
        }
    }
}
