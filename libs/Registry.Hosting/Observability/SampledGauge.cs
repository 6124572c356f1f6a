using Prometheus;

namespace Registry.Hosting.Observability;

/// <summary>
/// A gauge whose value is read from its sources when Prometheus scrapes, summed over every source
/// registered in the process (tests run several registries in one process; production runs one).
/// Sources register for the life of a component and unregister when it is disposed.
/// </summary>
public sealed class SampledGauge
{
    private readonly IGauge _gauge;
    private readonly Lock _lock = new();
    private Func<double>[] _sources = [];

    /// <summary>Wraps a gauge or one labelled child of it.</summary>
    public SampledGauge(IGauge gauge)
    {
        ArgumentNullException.ThrowIfNull(gauge);
        _gauge = gauge;
        Metrics.DefaultRegistry.AddBeforeCollectCallback(Sample);
    }

    /// <summary>Adds a source; disposing the result removes it.</summary>
    public IDisposable Register(Func<double> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        lock (_lock)
        {
            _sources = [.. _sources, source];
        }

        return new Registration(this, source);
    }

    private void Unregister(Func<double> source)
    {
        lock (_lock)
        {
            _sources = Array.FindAll(_sources, s => !ReferenceEquals(s, source));
        }
    }

    private void Sample()
    {
        var sources = Volatile.Read(ref _sources);
        var sum = 0d;
        foreach (var source in sources)
        {
            sum += source();
        }

        _gauge.Set(sum);
    }

    private sealed class Registration(SampledGauge owner, Func<double> source) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Unregister(source);
            }
        }
    }
}
