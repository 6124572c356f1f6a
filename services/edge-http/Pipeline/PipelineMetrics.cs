using System.Diagnostics;
using Prometheus;
using Registry.Hosting.Observability;

namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// Metrics of the request pipeline's stages: queue length, operations in flight and capacity (read
/// when Prometheus scrapes), rejections, and how long each stage's step takes. The backpressure the
/// pipeline applies is visible here: a full stage shows queue length near capacity.
/// </summary>
internal sealed class PipelineMetrics : IDisposable
{
    /// <summary>Stage indexes, in pipeline order.</summary>
    public const int Auth = 0, Manifest = 1, Blob = 2, Assemble = 3, Upload = 4;

    private static readonly string[] StageNames = ["auth", "manifest", "blob", "assemble", "upload"];

    private static readonly Gauge QueueLength = Metrics.CreateGauge(
        "registry_pipeline_queue_length", "Operations waiting in a pipeline stage's input (and, for transform stages, output).", "stage");

    private static readonly Gauge InFlight = Metrics.CreateGauge(
        "registry_pipeline_in_flight", "Operations a pipeline stage is working on.", "stage");

    private static readonly Gauge Capacity = Metrics.CreateGauge(
        "registry_pipeline_capacity", "Operations a pipeline stage holds at most (its bounded capacity).", "stage");

    private static readonly Counter Rejections = Metrics.CreateCounter(
        "registry_pipeline_rejections_total", "Operations a pipeline stage refused because it was full.", "stage");

    private static readonly Histogram AdmissionWaits = Metrics.CreateHistogram(
        "registry_pipeline_admission_wait_seconds",
        "Time a request that found a stage it needs full waited for a place, by outcome (admitted, refused with 429, abandoned by its client).",
        new HistogramConfiguration { LabelNames = ["outcome"], Buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });

    private static readonly Histogram Durations = Metrics.CreateHistogram(
        "registry_pipeline_stage_duration_seconds", "Time an operation spends in a stage's step, in seconds.",
        new HistogramConfiguration { LabelNames = ["stage"], Buckets = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 10, 60] });

    private static readonly SampledGauge[] QueueGauges = Sampled(QueueLength);
    private static readonly SampledGauge[] InFlightGauges = Sampled(InFlight);
    private static readonly SampledGauge[] CapacityGauges = Sampled(Capacity);
    private static readonly Counter.Child[] RejectionChildren = Children(Rejections);
    private static readonly Histogram.Child[] DurationChildren = Children(Durations);

    // Indexed by AdmissionOutcome: the children are looked up once, not per waiting request.
    private static readonly Histogram.Child[] AdmissionWaitChildren =
        [AdmissionWaits.WithLabels("admitted"), AdmissionWaits.WithLabels("refused"), AdmissionWaits.WithLabels("abandoned")];

    private readonly int[] _inFlight = new int[StageNames.Length];
    private readonly List<IDisposable> _registrations = [];

    /// <summary>Registers a pipeline's stages; <paramref name="queueLength"/> reads a stage's queue by index.</summary>
    public PipelineMetrics(Func<int, int> queueLength, int[] capacities)
    {
        for (var stage = 0; stage < StageNames.Length; stage++)
        {
            var index = stage;
            var capacity = capacities[stage];
            _registrations.Add(QueueGauges[stage].Register(() => queueLength(index)));
            _registrations.Add(InFlightGauges[stage].Register(() => Volatile.Read(ref _inFlight[index])));
            _registrations.Add(CapacityGauges[stage].Register(() => capacity));
        }
    }

    /// <summary>Marks a step as started; returns the timestamp <see cref="StepFinished"/> takes.</summary>
    public long StepStarted(int stage)
    {
        Interlocked.Increment(ref _inFlight[stage]);
        return Stopwatch.GetTimestamp();
    }

    /// <summary>Marks a step as finished.</summary>
    public void StepFinished(int stage, long startTimestamp)
    {
        Interlocked.Decrement(ref _inFlight[stage]);
        DurationChildren[stage].Observe(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
    }

    /// <summary>How a wait for a place in a full stage ended.</summary>
    public enum AdmissionOutcome
    {
        Admitted = 0,
        Refused = 1,
        Abandoned = 2,
    }

    /// <summary>Records how long a request waited for a place in a full stage, and how it ended.</summary>
    public static void AdmissionWaited(AdmissionOutcome outcome, TimeSpan waited) =>
        AdmissionWaitChildren[(int)outcome].Observe(waited.TotalSeconds);

    /// <summary>Counts an operation a stage refused.</summary>
    public static void Rejected(int stage) => RejectionChildren[stage].Inc();

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }
    }

    private static SampledGauge[] Sampled(Gauge gauge) =>
        Array.ConvertAll(StageNames, name => new SampledGauge(gauge.WithLabels(name)));

    private static Counter.Child[] Children(Counter counter) => Array.ConvertAll(StageNames, name => counter.WithLabels(name));

    private static Histogram.Child[] Children(Histogram histogram) => Array.ConvertAll(StageNames, name => histogram.WithLabels(name));
}
