using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Prometheus;

namespace Registry.Hosting.Observability.Leaks;

/// <summary>
/// Samples every <see cref="ILeakSignal"/> on an interval and compares it with a moving baseline (an
/// exponential average of the samples that were not suspect). A signal that stays above the baseline
/// by the growth factor and by its minimum increase for several samples in a row is reported: a
/// warning with the value, the baseline and the signal's evidence, and registry_leak_suspected = 1.
/// It clears when the signal falls back under the threshold.
/// </summary>
public sealed partial class LeakDetector : BackgroundService
{
    private static readonly Gauge Suspected = Metrics.CreateGauge(
        "registry_leak_suspected", "1 while a signal has grown past its baseline for several samples in a row (a suspected leak).", "signal");

    private static readonly Gauge Baselines = Metrics.CreateGauge(
        "registry_leak_baseline", "The moving baseline the leak detector compares a signal with.", "signal");

    private static readonly Gauge Values = Metrics.CreateGauge(
        "registry_leak_signal", "The last value the leak detector sampled for a signal.", "signal");

    private static readonly Counter Reports = Metrics.CreateCounter(
        "registry_leak_reports_total", "Suspected leaks reported (one per episode, plus repeats while it lasts).", "signal");

    private readonly ILeakSignal[] _signals;
    private readonly State[] _states;
    private readonly LeakDetectorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<LeakDetector> _logger;

    public LeakDetector(IEnumerable<ILeakSignal> signals, IOptions<LeakDetectorOptions> options, TimeProvider time, ILogger<LeakDetector> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _signals = [.. signals];
        _states = Array.ConvertAll(_signals, _ => new State());
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>True while the named signal is reported as leaking (for tests).</summary>
    public bool IsSuspected(string signal)
    {
        for (var i = 0; i < _signals.Length; i++)
        {
            if (_signals[i].Name == signal)
            {
                return _states[i].Reported;
            }
        }

        return false;
    }

    /// <summary>Samples every signal once and reports or clears suspected leaks.</summary>
    public void SampleOnce()
    {
        var now = _time.GetUtcNow();
        for (var i = 0; i < _signals.Length; i++)
        {
            var signal = _signals[i];
            var state = _states[i];
            double value;
            try
            {
                value = signal.Sample();
            }
            catch (Exception ex)
            {
                Log.SampleFailed(_logger, signal.Name, ex);
                continue;
            }

            Values.WithLabels(signal.Name).Set(value);
            if (state.Samples == 0)
            {
                state.Baseline = value;
            }

            state.Samples++;
            var minimum = _options.MinimumIncrease.TryGetValue(signal.Name, out var configured) ? configured : signal.MinimumIncrease;
            var threshold = Math.Max(state.Baseline * _options.GrowthFactor, state.Baseline + minimum);
            if (value > threshold)
            {
                state.Consecutive++;
                if (state.Consecutive >= _options.ConsecutiveSamples
                    && (!state.Reported || now - state.LastReport >= _options.RepeatEvery))
                {
                    state.Reported = true;
                    state.LastReport = now;
                    Suspected.WithLabels(signal.Name).Set(1);
                    Reports.WithLabels(signal.Name).Inc();
                    Log.Suspected(_logger, signal.Name, value, state.Baseline, state.Consecutive, signal.Evidence());
                }
            }
            else
            {
                // Only samples that are not suspect move the baseline, so a leak cannot drag it up.
                state.Baseline += _options.BaselineWeight * (value - state.Baseline);
                state.Consecutive = 0;
                if (state.Reported)
                {
                    state.Reported = false;
                    Suspected.WithLabels(signal.Name).Set(0);
                    Log.Cleared(_logger, signal.Name, value, state.Baseline);
                }
            }

            Baselines.WithLabels(signal.Name).Set(state.Baseline);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!_options.Enabled || _signals.Length == 0)
        {
            return;
        }

        // Every series exists from the start (dashboards and alerts need no data to appear first), and the
        // first sample is the first baseline.
        foreach (var signal in _signals)
        {
            Suspected.WithLabels(signal.Name).Set(0);
            Reports.WithLabels(signal.Name);
        }

        SampleOnce();
        using var timer = new PeriodicTimer(_options.Interval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    SampleOnce();
                }
                catch (OutOfMemoryException)
                {
                    // Near a heap hard limit a sample can fail to allocate; failing here would stop the host.
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
    }

    private sealed class State
    {
        public double Baseline { get; set; }

        public long Samples { get; set; }

        public int Consecutive { get; set; }

        public bool Reported { get; set; }

        public DateTimeOffset LastReport { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 120, EventName = "LeakSuspected", Level = LogLevel.Warning,
            Message = "Suspected leak: {Signal} is {Value} against a baseline of {Baseline:0.#} for {Samples} samples in a row. {Evidence}")]
        public static partial void Suspected(ILogger logger, string signal, double value, double baseline, int samples, string evidence);

        [LoggerMessage(EventId = 121, EventName = "LeakCleared", Level = LogLevel.Information,
            Message = "{Signal} is back to {Value} (baseline {Baseline:0.#})")]
        public static partial void Cleared(ILogger logger, string signal, double value, double baseline);

        [LoggerMessage(EventId = 122, EventName = "LeakSampleFailed", Level = LogLevel.Warning,
            Message = "The leak detector could not sample {Signal}")]
        public static partial void SampleFailed(ILogger logger, string signal, Exception exception);

        // Next free id: 123 (observability uses 110-139).
    }
}
