using System.Globalization;

namespace Registry.IntegrationTests.Support;

/// <summary>
/// One scrape of a Prometheus text endpoint: every sample line as "name{labels}" → value. Label
/// order is the exporter's own, which is stable for a series.
/// </summary>
public sealed class MetricsScrape
{
    private MetricsScrape(string text, Dictionary<string, double> samples)
    {
        Text = text;
        Samples = samples;
    }

    /// <summary>The raw exposition text.</summary>
    public string Text { get; }

    /// <summary>Samples by series.</summary>
    public IReadOnlyDictionary<string, double> Samples { get; }

    /// <summary>Scrapes /metrics from a registry.</summary>
    public static async Task<MetricsScrape> TakeAsync(HttpClient client, string path = "/metrics")
    {
        using var cts = new CancellationTokenSource(Timeouts.Request);
        var text = await client.GetStringAsync(path, cts.Token);
        return Parse(text);
    }

    /// <summary>Parses Prometheus text format (comments skipped).</summary>
    public static MetricsScrape Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        return new MetricsScrape(text, samples);
    }

    /// <summary>The value of a series, or 0 when it has not been exported yet.</summary>
    public double Value(string series) => Samples.TryGetValue(series, out var value) ? value : 0;

    /// <summary>The sum over every series of a metric name (all label sets).</summary>
    public double Sum(string name)
    {
        var sum = 0d;
        foreach (var (series, value) in Samples)
        {
            if (series == name || series.StartsWith(name + "{", StringComparison.Ordinal))
            {
                sum += value;
            }
        }

        return sum;
    }

    /// <summary>True when any series of the metric name is exported.</summary>
    public bool Has(string name) =>
        Samples.Keys.Any(series => series == name || series.StartsWith(name + "{", StringComparison.Ordinal));

    /// <summary>How much a series grew since an earlier scrape.</summary>
    public double Delta(MetricsScrape before, string series) => Value(series) - before.Value(series);
}
