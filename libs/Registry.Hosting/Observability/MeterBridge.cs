using System.Diagnostics.Metrics;
using Prometheus;

namespace Registry.Hosting.Observability;

/// <summary>
/// Exports System.Diagnostics.Metrics instruments of meters whose name starts with "Registry" through
/// prometheus-net. Names: the instrument's name in lower case with every other character made "_",
/// "registry_" put in front when missing, then the unit ("s" → "_seconds", "By" → "_bytes") and, for
/// counters, "_total". Tags become labels, sorted by name; each instrument keeps its labelled children,
/// so a measurement with tag values seen before allocates nothing.
/// </summary>
// TODO: tags are fixed by an instrument's first measurement; later measurements with other tag names lose them.
internal sealed class MeterBridge : IDisposable
{
    private static readonly double[] DefaultSecondsBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    private readonly MeterListener _listener = new();
    private readonly string _prefix;

    public MeterBridge(string meterPrefix, CollectorRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _prefix = meterPrefix;
        _listener.InstrumentPublished = OnInstrumentPublished;
        _listener.SetMeasurementEventCallback<long>(static (instrument, value, tags, state) => ((Exported)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>(static (instrument, value, tags, state) => ((Exported)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<double>(static (instrument, value, tags, state) => ((Exported)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>(static (instrument, value, tags, state) => ((Exported)state!).Record(value, tags));
        _listener.Start();
        registry.AddBeforeCollectCallback(_listener.RecordObservableInstruments);
    }

    /// <summary>The Prometheus name an instrument is exported under.</summary>
    public static string PrometheusName(Instrument instrument)
    {
        ArgumentNullException.ThrowIfNull(instrument);
        var chars = instrument.Name.ToLowerInvariant().ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (!char.IsAsciiLetterOrDigit(chars[i]))
            {
                chars[i] = '_';
            }
        }

        var name = new string(chars);
        if (!name.StartsWith("registry_", StringComparison.Ordinal))
        {
            name = "registry_" + name;
        }

        var unit = instrument.Unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            _ => string.Empty,
        };
        if (unit.Length > 0 && !name.EndsWith(unit, StringComparison.Ordinal))
        {
            name += unit;
        }

        var isCounter = instrument.GetType().Name.StartsWith("Counter", StringComparison.Ordinal)
            || instrument.GetType().Name.StartsWith("ObservableCounter", StringComparison.Ordinal);
        if (isCounter && !name.EndsWith("_total", StringComparison.Ordinal))
        {
            name += "_total";
        }

        return name;
    }

    public void Dispose() => _listener.Dispose();

    private void OnInstrumentPublished(Instrument instrument, MeterListener listener)
    {
        if (instrument.Meter.Name.StartsWith(_prefix, StringComparison.Ordinal))
        {
            listener.EnableMeasurementEvents(instrument, new Exported(instrument));
        }
    }

    /// <summary>One exported instrument: its Prometheus collector (made on the first measurement) and children.</summary>
    private sealed class Exported
    {
        private readonly Instrument _instrument;
        private readonly Lock _lock = new();
        private string[]? _tagKeys;
        private Collector? _collector;
        private (string?[] Values, object Child)[] _children = [];

        public Exported(Instrument instrument)
        {
            _instrument = instrument;
        }

        public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var child = Find(tags) ?? Create(tags);
            switch (child)
            {
                case Histogram.Child histogram:
                    histogram.Observe(value);
                    break;
                case Counter.Child counter when IsObservable:
                    counter.IncTo(value);
                    break;
                case Counter.Child counter:
                    counter.Inc(value);
                    break;
                case Gauge.Child gauge when IsObservable:
                    gauge.Set(value);
                    break;
                case Gauge.Child gauge:
                    gauge.Inc(value);
                    break;
            }
        }

        private bool IsObservable => _instrument.IsObservable;

        private object? Find(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var keys = _tagKeys;
            if (keys is null)
            {
                return null;
            }

            foreach (var (values, child) in Volatile.Read(ref _children))
            {
                if (Matches(keys, values, tags))
                {
                    return child;
                }
            }

            return null;
        }

        private static bool Matches(string[] keys, string?[] values, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            for (var i = 0; i < keys.Length; i++)
            {
                if (!string.Equals(values[i], ValueOf(keys[i], tags), StringComparison.Ordinal))
                {
                    return false;
                }
            }

            return true;
        }

        // TODO perf: a tag value that is not a string (an int status code) is formatted on every measurement.
        private static string? ValueOf(string key, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (var tag in tags)
            {
                if (string.Equals(tag.Key, key, StringComparison.Ordinal))
                {
                    return tag.Value as string ?? tag.Value?.ToString();
                }
            }

            return string.Empty;
        }

        private static string Sanitize(string key)
        {
            foreach (var c in key)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '_')
                {
                    return string.Create(key.Length, key, static (span, k) =>
                    {
                        for (var i = 0; i < k.Length; i++)
                        {
                            span[i] = char.IsAsciiLetterOrDigit(k[i]) ? k[i] : '_';
                        }
                    });
                }
            }

            return key;
        }

        private object Create(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            lock (_lock)
            {
                if (_tagKeys is null)
                {
                    var keys = new string[tags.Length];
                    var names = new string[tags.Length];
                    for (var i = 0; i < tags.Length; i++)
                    {
                        keys[i] = tags[i].Key;
                        names[i] = Sanitize(tags[i].Key);
                    }

                    Array.Sort(names, keys, StringComparer.Ordinal);
                    _collector = CreateCollector(names);
                    _tagKeys = keys;
                }

                var found = Find(tags);
                if (found is not null)
                {
                    return found;
                }

                var values = new string[_tagKeys.Length];
                for (var i = 0; i < values.Length; i++)
                {
                    values[i] = ValueOf(_tagKeys[i], tags) ?? string.Empty;
                }

                object child = _collector switch
                {
                    Histogram histogram => histogram.WithLabels(values),
                    Counter counter => counter.WithLabels(values),
                    Gauge gauge => gauge.WithLabels(values),
                    _ => throw new InvalidOperationException("unknown collector"),
                };
                Volatile.Write(ref _children, [.. _children, (values, child)]);
                return child;
            }
        }

        private Collector CreateCollector(string[] labelNames)
        {
            var name = PrometheusName(_instrument);
            var help = string.IsNullOrEmpty(_instrument.Description) ? _instrument.Name : _instrument.Description;
            var type = _instrument.GetType().Name;
            if (type.StartsWith("Histogram", StringComparison.Ordinal))
            {
                return Metrics.CreateHistogram(name, help, new HistogramConfiguration
                {
                    LabelNames = labelNames,
                    Buckets = BucketsOf(_instrument),
                });
            }

            return type.StartsWith("Counter", StringComparison.Ordinal) || type.StartsWith("ObservableCounter", StringComparison.Ordinal)
                ? Metrics.CreateCounter(name, help, labelNames)
                : Metrics.CreateGauge(name, help, labelNames);
        }

        private static double[] BucketsOf(Instrument instrument)
        {
            var advised = instrument switch
            {
                Histogram<double> h => h.Advice?.HistogramBucketBoundaries is { } b ? [.. b] : null,
                Histogram<long> h => h.Advice?.HistogramBucketBoundaries is { } b ? Array.ConvertAll([.. b], static v => (double)v) : null,
                _ => (double[]?)null,
            };
            return advised ?? (instrument.Unit == "s" ? DefaultSecondsBuckets : Histogram.ExponentialBuckets(1, 2, 16));
        }
    }
}
