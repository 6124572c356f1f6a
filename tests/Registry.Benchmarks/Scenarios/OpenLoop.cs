using System.Collections.Concurrent;
using System.Diagnostics;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// Open-loop load: operations start at a fixed arrival rate whatever the server does, each on a free pooled
/// connection or a new one while fewer than the in-flight limit are outstanding. A slow server therefore
/// meets growing concurrency, as it would from independent users, instead of slowing its own clients down.
/// </summary>
/// <remarks>
/// One dedicated thread dispatches. It prepares each arrival's item (untimed work such as hashing a blob)
/// before the arrival is due, sleeps until it is due, and when it wakes late it sends every arrival that
/// fell due meanwhile in one burst, so the schedule never drifts; the lateness is reported. Latency is
/// taken from the scheduled time, so time an arrival spent waiting for the dispatcher or the thread pool
/// counts against the server's answer, as it would for a user (no coordinated omission).
/// </remarks>
internal static class OpenLoop
{
    /// <summary>How long outstanding operations may run on after the last arrival before they are cancelled.</summary>
    public static readonly TimeSpan DefaultDrain = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan ShortestSleep = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan LongestSleep = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan UnwindLimit = TimeSpan.FromSeconds(5);

    /// <summary>Arrivals due this long after the phase began count as settled (see <see cref="OpenLoopResult.SettledSuccessTicks"/>).</summary>
    public static readonly TimeSpan SettleTime = TimeSpan.FromSeconds(1);

    /// <summary>Runs one phase and returns once every operation has ended or been cancelled and every connection is closed.</summary>
    /// <param name="settings">Rate, duration, budgets and drain time.</param>
    /// <param name="connect">Makes a new connection (without I/O; it connects on first use).</param>
    /// <param name="prepare">Untimed work for arrival i, done on the dispatcher before i is due.</param>
    /// <param name="operation">The timed work of one arrival on one connection.</param>
    /// <param name="cancellationToken">Stops dispatching and cancels outstanding operations.</param>
    public static async Task<OpenLoopResult> RunAsync<TConnection, TItem>(
        OpenLoopSettings settings,
        Func<TConnection> connect,
        Func<long, TItem> prepare,
        Func<TConnection, TItem, CancellationToken, ValueTask<OpenLoopOutcome>> operation,
        CancellationToken cancellationToken)
        where TConnection : class, IDisposable
    {
        ArgumentNullException.ThrowIfNull(connect);
        ArgumentNullException.ThrowIfNull(prepare);
        ArgumentNullException.ThrowIfNull(operation);
        var schedule = new OpenLoopSchedule(settings.RatePerSecond, settings.Duration, settings.MaxArrivals, Stopwatch.Frequency);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var start = Stopwatch.GetTimestamp();
        var settledFrom = start + (long)(SettleTime.TotalSeconds * Stopwatch.Frequency);
        var phase = new Phase<TConnection, TItem>(new InFlightGate(settings.MaxInFlight), connect, operation, settledFrom, cancel.Token);
        try
        {
            var dispatch = await Task.Factory.StartNew(
                () => Dispatch(phase, schedule, prepare, start),
                CancellationToken.None,
                TaskCreationOptions.LongRunning,
                TaskScheduler.Default);
            var dispatched = Stopwatch.GetTimestamp();

            var drainEnd = dispatched + (long)(settings.Drain.TotalSeconds * Stopwatch.Frequency);
            while (phase.Gate.Current > 0 && Stopwatch.GetTimestamp() < drainEnd && !cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(PollInterval, CancellationToken.None);
            }

            var drained = Stopwatch.GetTimestamp();
            var unfinished = phase.Log.Close(dispatch.Sent);
            await cancel.CancelAsync();
            phase.CloseAll();

            // Cancelled operations unwind quickly once their sockets are gone; wait for them, within a limit.
            var unwindEnd = Stopwatch.GetTimestamp() + (long)(UnwindLimit.TotalSeconds * Stopwatch.Frequency);
            while (phase.Gate.Current > 0 && Stopwatch.GetTimestamp() < unwindEnd)
            {
                await Task.Delay(PollInterval, CancellationToken.None);
            }

            return new OpenLoopResult
            {
                SuccessTicks = phase.Log.Successes(),
                SettledSuccessTicks = phase.Log.SettledSuccesses(),
                FailureTicks = phase.Log.Failures(),
                Scheduled = schedule.Arrivals,
                Sent = dispatch.Sent,
                NotSent = dispatch.NotSent,
                Unfinished = unfinished,
                MaxLagMs = dispatch.MaxLagTicks * 1000.0 / Stopwatch.Frequency,
                MeanLagMs = dispatch.Dispatched > 0 ? dispatch.LagTicksSum * 1000.0 / Stopwatch.Frequency / dispatch.Dispatched : 0,
                ConnectionsOpened = phase.ConnectionsOpened,
                DispatchSeconds = (dispatched - start) / (double)Stopwatch.Frequency,
                DrainSeconds = (drained - dispatched) / (double)Stopwatch.Frequency,
            };
        }
        finally
        {
            phase.CloseAll();
        }
    }

    // Runs on its own thread: sleeps until the next arrival is due, then sends all that are due.
    private static DispatchTotals Dispatch<TConnection, TItem>(
        Phase<TConnection, TItem> phase,
        OpenLoopSchedule schedule,
        Func<long, TItem> prepare,
        long start)
        where TConnection : class, IDisposable
    {
        var totals = default(DispatchTotals);
        var token = phase.Token;
        long next = 0;
        var item = schedule.Arrivals > 0 ? prepare(0) : default!;
        while (next < schedule.Arrivals && !token.IsCancellationRequested)
        {
            var elapsed = Stopwatch.GetTimestamp() - start;
            var due = schedule.DueBy(elapsed);
            if (due <= next)
            {
                // Sleep until the next arrival is due (at least the 1 ms the timer can do, at most LongestSleep so
                // that cancellation is seen); waking late is what the burst below makes up for.
                var wait = TimeSpan.FromSeconds((schedule.DueTicks(next) - elapsed) / (double)Stopwatch.Frequency);
                Thread.Sleep(TimeSpan.FromTicks(Math.Clamp(wait.Ticks, ShortestSleep.Ticks, LongestSleep.Ticks)));
                continue;
            }

            for (; next < due && !token.IsCancellationRequested; next++)
            {
                var scheduled = start + schedule.DueTicks(next);
                var lag = Stopwatch.GetTimestamp() - scheduled;
                totals.Dispatched++;
                totals.LagTicksSum += lag;
                totals.MaxLagTicks = Math.Max(totals.MaxLagTicks, lag);
                if (phase.Gate.TryEnter())
                {
                    totals.Sent++;
                    var current = item;
                    _ = Task.Run(() => phase.ExecuteAsync(current, scheduled), CancellationToken.None);
                }
                else
                {
                    totals.NotSent++;
                }

                item = next + 1 < schedule.Arrivals ? prepare(next + 1) : default!;
            }
        }

        return totals;
    }

    private struct DispatchTotals
    {
        public long Dispatched;
        public long Sent;
        public long NotSent;
        public long LagTicksSum;
        public long MaxLagTicks;
    }

    /// <summary>The shared state of one phase: the gate, the connection pool and the latency log.</summary>
    private sealed class Phase<TConnection, TItem>
        where TConnection : class, IDisposable
    {
        private readonly Func<TConnection> _connect;
        private readonly Func<TConnection, TItem, CancellationToken, ValueTask<OpenLoopOutcome>> _operation;
        private readonly ConcurrentStack<TConnection> _idle = new();
        private readonly ConcurrentBag<TConnection> _all = [];
        private readonly long _settledFrom;
        private long _opened;

        public Phase(
            InFlightGate gate,
            Func<TConnection> connect,
            Func<TConnection, TItem, CancellationToken, ValueTask<OpenLoopOutcome>> operation,
            long settledFrom,
            CancellationToken token)
        {
            Gate = gate;
            _connect = connect;
            _operation = operation;
            _settledFrom = settledFrom;
            Token = token;
        }

        public InFlightGate Gate { get; }

        public CancellationToken Token { get; }

        public LatencyLog Log { get; } = new();

        public long ConnectionsOpened => Interlocked.Read(ref _opened);

        /// <summary>One arrival: the gate place is already taken and is given back at the end.</summary>
        public async Task ExecuteAsync(TItem item, long scheduled)
        {
            TConnection? connection = null;
            var outcome = OpenLoopOutcome.Failed("not_started");
            try
            {
                if (!_idle.TryPop(out connection))
                {
                    connection = _connect();
                    _all.Add(connection);
                    Interlocked.Increment(ref _opened);
                }

                outcome = await _operation(connection, item, Token);
            }
            catch (OperationCanceledException) when (Token.IsCancellationRequested)
            {
                outcome = OpenLoopOutcome.Failed("cancelled");
            }
            catch (Exception ex)
            {
                outcome = OpenLoopOutcome.Failed(ex.GetType().Name);
            }
            finally
            {
                Log.Record(outcome.Kind, Stopwatch.GetTimestamp() - scheduled, settled: scheduled >= _settledFrom);
                if (connection is not null)
                {
                    if (outcome.KeepConnection && !Token.IsCancellationRequested)
                    {
                        _idle.Push(connection);
                    }
                    else
                    {
                        connection.Dispose();
                    }
                }

                Gate.Exit();
            }
        }

        public void CloseAll()
        {
            _idle.Clear();
            foreach (var connection in _all)
            {
                connection.Dispose();
            }
        }
    }

    /// <summary>Latencies by outcome, recorded from many tasks; closed once the drain ends.</summary>
    private sealed class LatencyLog
    {
        private readonly Lock _lock = new();
        private readonly List<long> _successes = new(4096);
        private readonly List<long> _settledSuccesses = new(4096);
        private readonly Dictionary<string, List<long>> _failures = new(StringComparer.Ordinal);
        private long _recorded;
        private bool _closed;

        public void Record(string? kind, long ticks, bool settled)
        {
            lock (_lock)
            {
                if (_closed)
                {
                    return;
                }

                _recorded++;
                if (kind is null)
                {
                    _successes.Add(ticks);
                    if (settled)
                    {
                        _settledSuccesses.Add(ticks);
                    }

                    return;
                }

                if (!_failures.TryGetValue(kind, out var list))
                {
                    list = [];
                    _failures[kind] = list;
                }

                list.Add(ticks);
            }
        }

        /// <summary>Stops recording; returns how many of the <paramref name="sent"/> operations never recorded.</summary>
        public long Close(long sent)
        {
            lock (_lock)
            {
                _closed = true;
                return sent - _recorded;
            }
        }

        public long[] Successes() => Sorted(_successes);

        public long[] SettledSuccesses() => Sorted(_settledSuccesses);

        private long[] Sorted(List<long> list)
        {
            lock (_lock)
            {
                var sorted = list.ToArray();
                Array.Sort(sorted);
                return sorted;
            }
        }

        public Dictionary<string, long[]> Failures()
        {
            lock (_lock)
            {
                var byKind = new Dictionary<string, long[]>(_failures.Count, StringComparer.Ordinal);
                foreach (var (kind, list) in _failures)
                {
                    var sorted = list.ToArray();
                    Array.Sort(sorted);
                    byKind[kind] = sorted;
                }

                return byKind;
            }
        }
    }
}
