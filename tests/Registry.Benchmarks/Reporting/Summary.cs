using System.Globalization;
using System.Text;

namespace Registry.Benchmarks.Reporting;

/// <summary>
/// Medians over rounds per scenario, variant, concurrency and registry, and A/B ratios taken as the median
/// of per-round ratios (A and B ran back to back in each round, so slow drift of the machine cancels).
/// </summary>
internal static class Summary
{
    private static readonly (string Name, Func<RunResult, double> Value)[] RatioMetrics =
    [
        ("ops_per_s", r => r.OpsPerSecond),
        ("mib_per_s", r => r.MiBPerSecond),
        ("p50_ms", r => r.P50Ms),
        ("p99_ms", r => r.P99Ms),
        ("p999_ms", r => r.P999Ms),
        ("server_cpu_ms_per_op", r => r.ServerCpuMsPerOp),
        ("rss_peak_mib", r => r.RssPeakMiB),
    ];

    // Extras a scenario's block lists first, in reading order; the rest follow alphabetically.
    private static readonly Dictionary<string, string[]> LeadingExtras = new(StringComparer.Ordinal)
    {
        ["overload"] =
        [
            "capacity_per_s", "offered_per_s", "admitted_per_s", "half_load_p99_ms", "admitted_p99_vs_half_load",
            "shed_per_s", "shed_fraction", "shed_p99_ms", "retry_after_fraction", "probe_half_p99_ms",
            "probe_overload_p99_ms", "probe_p99_ratio", "probe_overload_shed", "rss_growth_mib", "not_sent",
            "unfinished", "max_dispatch_lag_ms", "other_errors", "upload_dirs_delta",
        ],
    };

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>The A/B ratios of one case: metric name to median of per-round ratios.</summary>
    public static SortedDictionary<string, double> Ratios(IReadOnlyList<RunResult> a, IReadOnlyList<RunResult> b)
    {
        var ratios = new SortedDictionary<string, double>(StringComparer.Ordinal);
        foreach (var (name, value) in RatioMetrics)
        {
            var perRound = a.Join(b, x => x.Round, y => y.Round, (x, y) => value(x) / value(y))
                .Where(double.IsFinite);
            ratios[name] = Median(perRound);
        }

        return ratios;
    }

    /// <summary>
    /// The table: per case the medians of A, B and, where it ran, the static anchor, then A/B and each
    /// registry's ratio to the anchor (medians of per-round ratios).
    /// </summary>
    public static string Render(IReadOnlyList<RunResult> results, string labelA, string? labelB, string? anchorLabel = null)
    {
        var text = new StringBuilder();
        var cases = results.Select(r => (r.Scenario, r.Variant, r.Clients)).Distinct().ToList();
        text.AppendLine(CultureInfo.InvariantCulture, $"medians over {results.Select(r => r.Round).Distinct().Count()} round(s); ratio rows are {labelA}/{labelB ?? "-"} (median of per-round ratios)");
        if (anchorLabel is not null)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"A/{anchorLabel} and B/{anchorLabel} rows: each registry against the static file server {anchorLabel} on the same file");
        }

        text.AppendLine();
        var header = string.Format(
            CultureInfo.InvariantCulture,
            "{0,-10} {1,-10} {2,5} {3,-7} {4,9} {5,8} {6,8} {7,8} {8,8} {9,6} {10,9} {11,6} {12,8} {13,5} {14,5} {15,5}",
            "scenario", "variant", "c", "label", "ops/s", "MiB/s", "p50ms", "p99ms", "p99.9ms", "err", "cpu ms/op", "srv%",
            "rssMiB", "thr", "fds", "cli%");
        text.AppendLine(header);
        text.AppendLine(new string('-', header.Length));
        foreach (var (scenario, variant, clients) in cases)
        {
            var a = Select(results, scenario, variant, clients, labelA);
            var b = labelB is null ? [] : Select(results, scenario, variant, clients, labelB);
            var anchor = anchorLabel is null ? [] : Select(results, scenario, variant, clients, anchorLabel);
            foreach (var (label, runs) in new[] { (labelA, a), (labelB ?? string.Empty, b), (anchorLabel ?? string.Empty, anchor) })
            {
                if (runs.Count == 0)
                {
                    continue;
                }

                text.AppendLine(string.Format(
                    CultureInfo.InvariantCulture,
                    "{0,-10} {1,-10} {2,5} {3,-7} {4,9:F1} {5,8:F1} {6,8:F2} {7,8:F2} {8,8:F2} {9,6:F0} {10,9:F3} {11,6:F0} {12,8:F1} {13,5:F0} {14,5:F0} {15,5:F0}",
                    scenario, variant, clients, label,
                    Median(runs.Select(r => r.OpsPerSecond)),
                    Median(runs.Select(r => r.MiBPerSecond)),
                    Median(runs.Select(r => r.P50Ms)),
                    Median(runs.Select(r => r.P99Ms)),
                    Median(runs.Select(r => r.P999Ms)),
                    Median(runs.Select(r => (double)r.Errors)),
                    Median(runs.Select(r => r.ServerCpuMsPerOp)),
                    Median(runs.Select(r => r.ServerCpuPercent)),
                    Median(runs.Select(r => r.RssPeakMiB)),
                    Median(runs.Select(r => (double)r.ThreadsPeak)),
                    Median(runs.Select(r => (double)r.FdsPeak)),
                    Median(runs.Select(r => r.ClientCpuPercent))));
            }

            AppendRatio(text, "A/B", a, b);
            AppendRatio(text, $"A/{anchorLabel}", a, anchor);
            AppendRatio(text, $"B/{anchorLabel}", b, anchor);
        }

        AppendExtras(text, results, cases, labelA, labelB);
        AppendErrors(text, results);
        return text.ToString();
    }

    private static void AppendRatio(StringBuilder text, string name, IReadOnlyList<RunResult> a, IReadOnlyList<RunResult> b)
    {
        if (a.Count == 0 || b.Count == 0)
        {
            return;
        }

        var ratio = Ratios(a, b);
        text.AppendLine(string.Format(
            CultureInfo.InvariantCulture,
            "{0,-10} {1,-10} {2,5} {3,-7} {4,9:F2} {5,8:F2} {6,8:F2} {7,8:F2} {8,8:F2} {9,6} {10,9:F2} {11,6} {12,8:F2}",
            string.Empty, string.Empty, string.Empty, name,
            ratio["ops_per_s"], ratio["mib_per_s"], ratio["p50_ms"], ratio["p99_ms"], ratio["p999_ms"], string.Empty,
            ratio["server_cpu_ms_per_op"], string.Empty, ratio["rss_peak_mib"]));
    }

    private static void AppendExtras(
        StringBuilder text,
        IReadOnlyList<RunResult> results,
        List<(string Scenario, string Variant, int Clients)> cases,
        string labelA,
        string? labelB)
    {
        foreach (var (scenario, variant, clients) in cases)
        {
            var labels = labelB is null ? new[] { labelA } : [labelA, labelB];
            var rows = labels
                .Select(label => (label, runs: Select(results, scenario, variant, clients, label)))
                .Where(x => x.runs.Any(r => r.Extra.Count > 0))
                .ToList();
            if (rows.Count == 0)
            {
                continue;
            }

            text.AppendLine();
            text.AppendLine(CultureInfo.InvariantCulture, $"{scenario} {variant} c={clients} (medians)");
            var present = rows.SelectMany(x => x.runs.SelectMany(r => r.Extra.Keys)).Distinct().Order(StringComparer.Ordinal).ToList();
            var leading = LeadingExtras.GetValueOrDefault(scenario) ?? [];
            var keys = leading.Where(present.Contains).Concat(present.Where(k => !leading.Contains(k)));
            foreach (var key in keys)
            {
                text.Append(CultureInfo.InvariantCulture, $"  {key,-28}");
                foreach (var (label, runs) in rows)
                {
                    var value = Median(runs.Select(r => r.Extra.TryGetValue(key, out var v) ? v : double.NaN));
                    text.Append(CultureInfo.InvariantCulture, $" {label}={value,10:0.###}");
                }

                text.AppendLine();
            }
        }
    }

    private static void AppendErrors(StringBuilder text, IReadOnlyList<RunResult> results)
    {
        var failing = results.Where(r => r.ErrorKinds.Count > 0).ToList();
        if (failing.Count == 0)
        {
            return;
        }

        text.AppendLine();
        text.AppendLine("errors by kind (per run)");
        foreach (var run in failing)
        {
            var kinds = string.Join(", ", run.ErrorKinds.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key}={k.Value}"));
            text.AppendLine(CultureInfo.InvariantCulture, $"  round {run.Round} {run.Label} {run.Scenario} {run.Variant} c={run.Clients}: {kinds}");
        }
    }

    private static List<RunResult> Select(IReadOnlyList<RunResult> results, string scenario, string variant, int clients, string label) =>
        results.Where(r => r.Scenario == scenario && r.Variant == variant && r.Clients == clients && r.Label == label).ToList();
}
