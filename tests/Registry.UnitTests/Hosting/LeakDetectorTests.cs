using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Registry.Hosting.Observability.Leaks;

namespace Registry.UnitTests.Hosting;

public sealed class LeakDetectorTests
{
    [Fact]
    public void SteadyGrowth_IsReported_WithEvidence_AndClearsWhenItFalls()
    {
        var signal = new FakeSignal("fake_growth", minimumIncrease: 20);
        var logger = new ListLogger();
        var detector = Create(signal, logger);

        for (var i = 0; i < 10; i++)
        {
            signal.Value = 50;
            detector.SampleOnce();
        }

        Assert.False(detector.IsSuspected("fake_growth"));
        for (var i = 1; i <= 6 && !detector.IsSuspected("fake_growth"); i++)
        {
            signal.Value = 50 + (i * 40);
            detector.SampleOnce();
        }

        Assert.True(detector.IsSuspected("fake_growth"));
        var warning = Assert.Single(logger.Lines, line => line.Level == LogLevel.Warning);
        Assert.Contains("fake_growth", warning.Text, StringComparison.Ordinal);
        Assert.Contains("oldest: upload_patch 300 s", warning.Text, StringComparison.Ordinal);

        signal.Value = 55;
        detector.SampleOnce();
        Assert.False(detector.IsSuspected("fake_growth"));
    }

    [Fact]
    public void BoundedNoise_StaysSilent()
    {
        var signal = new FakeSignal("fake_noise", minimumIncrease: 20);
        var logger = new ListLogger();
        var detector = Create(signal, logger);
        var random = new Random(42);

        // A busy but healthy process: the level swings between 40 and 90, with short bursts to 120.
        for (var i = 0; i < 500; i++)
        {
            signal.Value = i % 50 == 0 ? 120 : random.Next(40, 90);
            detector.SampleOnce();
            Assert.False(detector.IsSuspected("fake_noise"), $"sample {i}: {signal.Value}");
        }

        Assert.DoesNotContain(logger.Lines, line => line.Level == LogLevel.Warning);
    }

    [Fact]
    public void ConfiguredMinimumIncrease_ReplacesTheSignalsDefault()
    {
        var signal = new FakeSignal("fake_small", minimumIncrease: 1000);
        var options = new LeakDetectorOptions { ConsecutiveSamples = 2 };
        options.MinimumIncrease["fake_small"] = 3;
        var detector = new LeakDetector([signal], Options.Create(options), TimeProvider.System, NullLogger<LeakDetector>.Instance);

        signal.Value = 1;
        detector.SampleOnce();
        signal.Value = 10;
        detector.SampleOnce();
        detector.SampleOnce();
        Assert.True(detector.IsSuspected("fake_small"));
    }

    private static LeakDetector Create(ILeakSignal signal, ILogger<LeakDetector> logger) =>
        new([signal], Options.Create(new LeakDetectorOptions { ConsecutiveSamples = 3 }), TimeProvider.System, logger);

    private sealed class FakeSignal(string name, double minimumIncrease) : ILeakSignal
    {
        public double Value { get; set; }

        public string Name => name;

        public double MinimumIncrease => minimumIncrease;

        public double Sample() => Value;

        public string Evidence() => "oldest: upload_patch 300 s";
    }

    private sealed class ListLogger : ILogger<LeakDetector>
    {
        public List<(LogLevel Level, string Text)> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add((logLevel, formatter(state, exception)));
    }
}
