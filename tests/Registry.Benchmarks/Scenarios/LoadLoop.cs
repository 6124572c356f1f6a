using System.Diagnostics;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// Closed-loop load: N workers each run one operation after another until the duration ends or the
/// operation budget is spent. An operation returns null on success or a short error kind.
/// </summary>
internal static class LoadLoop
{
    /// <summary>How long in-flight operations may run past the duration before they are cancelled.</summary>
    public static readonly TimeSpan Grace = TimeSpan.FromSeconds(60);

    public static async Task<LoopResult> RunAsync(
        int clients,
        TimeSpan duration,
        long maxOps,
        Func<int, CancellationToken, ValueTask<string?>> operation,
        Action<int>? prepare,
        CancellationToken cancellationToken)
    {
        using var hardStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        hardStop.CancelAfter(duration + Grace);
        var started = 0L;
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        var workers = new Task<WorkerLog>[clients];
        for (var i = 0; i < clients; i++)
        {
            var worker = i;
            workers[i] = Task.Run(
                async () =>
                {
                    var log = new WorkerLog();
                    while (Stopwatch.GetTimestamp() < end && Interlocked.Increment(ref started) <= maxOps)
                    {
                        // Untimed per-operation work, such as making and hashing a fresh blob.
                        prepare?.Invoke(worker);
                        var t0 = Stopwatch.GetTimestamp();
                        string? error;
                        try
                        {
                            error = await operation(worker, hardStop.Token);
                        }
                        catch (OperationCanceledException) when (hardStop.IsCancellationRequested)
                        {
                            log.Fail("hard_timeout", Stopwatch.GetTimestamp() - t0);
                            break;
                        }
                        catch (Exception ex)
                        {
                            error = ex.GetType().Name;
                        }

                        var elapsed = Stopwatch.GetTimestamp() - t0;
                        if (error is null)
                        {
                            log.Successes.Add(elapsed);
                        }
                        else
                        {
                            log.Fail(error, elapsed);
                        }
                    }

                    return log;
                },
                CancellationToken.None);
        }

        var logs = await Task.WhenAll(workers);
        var wall = Stopwatch.GetElapsedTime(start).TotalSeconds;
        var kinds = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var log in logs)
        {
            foreach (var (kind, count) in log.Kinds)
            {
                kinds[kind] = kinds.GetValueOrDefault(kind) + count;
            }
        }

        return new LoopResult
        {
            SuccessTicks = [.. logs.SelectMany(l => l.Successes)],
            FailureTicks = [.. logs.SelectMany(l => l.Failures)],
            ErrorKinds = kinds,
            WallSeconds = wall,
        };
    }

    /// <summary>Nearest-rank percentile of sorted Stopwatch ticks, in milliseconds; NaN when empty.</summary>
    public static double PercentileMs(long[] sortedTicks, double percentile)
    {
        if (sortedTicks.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(percentile / 100.0 * sortedTicks.Length) - 1;
        rank = Math.Clamp(rank, 0, sortedTicks.Length - 1);
        return sortedTicks[rank] * 1000.0 / Stopwatch.Frequency;
    }

    private sealed class WorkerLog
    {
        public List<long> Successes { get; } = new(4096);

        public List<long> Failures { get; } = [];

        public Dictionary<string, long> Kinds { get; } = new(StringComparer.Ordinal);

        public void Fail(string kind, long ticks)
        {
            Failures.Add(ticks);
            Kinds[kind] = Kinds.GetValueOrDefault(kind) + 1;
        }
    }
}
