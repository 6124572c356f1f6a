using System.Globalization;

namespace Registry.Benchmarks.Monitoring;

/// <summary>
/// One scrape of a Prometheus text endpoint, reduced to what the scenarios read: counters and histogram
/// buckets summed over their label sets. Two scrapes taken around a run give the run's own figures.
/// </summary>
internal sealed class PrometheusScrape
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };

    // name -> summed value; histogram buckets are stored as "name_bucket|le".
    private readonly Dictionary<string, double> _values = new(StringComparer.Ordinal);

    private PrometheusScrape()
    {
    }

    /// <summary>Scrapes the endpoint, or returns null when there is none or it does not answer.</summary>
    public static async Task<PrometheusScrape?> TryTakeAsync(Uri? endpoint, CancellationToken cancellationToken)
    {
        if (endpoint is null)
        {
            return null;
        }

        try
        {
            var text = await Http.GetStringAsync(endpoint, cancellationToken);
            return Parse(text);
        }
        catch (HttpRequestException)
        {
            return null;
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    public static PrometheusScrape Parse(string text)
    {
        var scrape = new PrometheusScrape();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            if (space <= 0 || !double.TryParse(line[(space + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                continue;
            }

            var series = line[..space].TrimEnd();
            var brace = series.IndexOf('{');
            var name = brace < 0 ? series : series[..brace];
            var key = name;
            if (name.EndsWith("_bucket", StringComparison.Ordinal) && brace >= 0)
            {
                var le = Label(series[brace..], "le");
                if (le is null)
                {
                    continue;
                }

                key = name + "|" + le;
            }

            scrape._values[key] = scrape._values.GetValueOrDefault(key) + value;
        }

        return scrape;
    }

    /// <summary>The first metric family whose name starts with the prefix and ends with the suffix, or null.</summary>
    public string? FindName(string prefix, string suffix) =>
        _values.Keys
            .Select(k => k.Split('|')[0])
            .Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && k.EndsWith(suffix, StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .FirstOrDefault();

    /// <summary>Adds the run's runtime and cancellation figures (when the registry exports them) to its extras.</summary>
    public static void Fill(PrometheusScrape? before, PrometheusScrape? after, IDictionary<string, double> extra)
    {
        if (before is null || after is null)
        {
            return;
        }

        if (after.FindName("registry_gc_pause_seconds", "_bucket") is { } gcBucket)
        {
            var gc = gcBucket[..^"_bucket".Length];
            extra["gc_pauses"] = after.Delta(before, gc + "_count");
            extra["gc_pause_p99_ms_le"] = after.Quantile(before, gc, 0.99) * 1000;
            extra["gc_pause_max_ms_le"] = after.Quantile(before, gc, 1.0) * 1000;
            if (extra["gc_pauses"] > 0)
            {
                // How far from the 1 ms target: the share of pauses at or under it.
                extra["gc_pauses_within_1ms_pct"] = 100 * after.CountAtMost(before, gc, 0.001) / extra["gc_pauses"];
            }
        }

        if (after.FindName("registry_gc_suspension_seconds", "_bucket") is { } suspensionBucket)
        {
            // The part of each pause spent getting every managed thread to stop.
            var suspension = suspensionBucket[..^"_bucket".Length];
            extra["gc_suspension_p99_ms_le"] = after.Quantile(before, suspension, 0.99) * 1000;
        }

        if (after.FindName("registry_edge_cancellation_stop_duration", "_bucket") is { } stopBucket)
        {
            var stop = stopBucket[..^"_bucket".Length];
            var aborted = after.Delta(before, stop + "_count");
            extra["aborted_requests"] = aborted;
            if (aborted > 0)
            {
                extra["aborted_stop_p999_ms_le"] = after.Quantile(before, stop, 0.999) * 1000;
                extra["aborted_stopped_within_100ms_pct"] = 100 * after.CountAtMost(before, stop, 0.1) / aborted;
            }
        }
    }

    /// <summary>How many observations a histogram gained, since an earlier scrape, at or below a bucket bound.</summary>
    public double CountAtMost(PrometheusScrape before, string histogram, double bound)
    {
        var key = histogram + "_bucket|" + bound.ToString(CultureInfo.InvariantCulture);
        return _values.ContainsKey(key) ? _values[key] - before._values.GetValueOrDefault(key) : double.NaN;
    }

    /// <summary>A counter's (or a histogram's _count/_sum) growth from an earlier scrape to this one.</summary>
    public double Delta(PrometheusScrape before, string name) =>
        _values.GetValueOrDefault(name) - before._values.GetValueOrDefault(name);

    /// <summary>
    /// A quantile of the observations a histogram gained since an earlier scrape, as the upper bound of the
    /// bucket that holds it (so "p99 at most this"). NaN when nothing was observed.
    /// </summary>
    public double Quantile(PrometheusScrape before, string histogram, double q)
    {
        var prefix = histogram + "_bucket|";
        var buckets = _values.Keys
            .Where(k => k.StartsWith(prefix, StringComparison.Ordinal))
            .Select(k => (Le: ParseLe(k[prefix.Length..]), Count: _values[k] - before._values.GetValueOrDefault(k)))
            .OrderBy(b => b.Le)
            .ToArray();
        if (buckets.Length == 0 || buckets[^1].Count <= 0)
        {
            return double.NaN;
        }

        var wanted = q * buckets[^1].Count;
        foreach (var (le, count) in buckets)
        {
            if (count >= wanted)
            {
                return le;
            }
        }

        return double.PositiveInfinity;
    }

    private static double ParseLe(string le) =>
        le == "+Inf" ? double.PositiveInfinity : double.Parse(le, NumberStyles.Float, CultureInfo.InvariantCulture);

    private static string? Label(string labels, string name)
    {
        var at = labels.IndexOf("{" + name + "=\"", StringComparison.Ordinal);
        if (at < 0)
        {
            at = labels.IndexOf("," + name + "=\"", StringComparison.Ordinal);
        }

        if (at < 0)
        {
            return null;
        }

        var start = at + name.Length + 3;
        var end = labels.IndexOf('"', start);
        return end < 0 ? null : labels[start..end];
    }
}
