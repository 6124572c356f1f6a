using System.Diagnostics;

namespace Registry.Benchmarks.Monitoring;

/// <summary>
/// Watches the server processes during one measured window: CPU at both ends, resident memory, threads
/// and descriptors polled every 100 ms, and the load generator's own CPU for comparison.
/// </summary>
internal sealed class ServerMonitor : IAsyncDisposable
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private readonly IReadOnlyList<int> _pids;
    private readonly double _cpuStart;
    private readonly double _clientCpuStart;
    private readonly long _startTimestamp;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _poller;
    private readonly ServerSample _first;
    private double _rssPeak;
    private int _threadsPeak;
    private int _fdsPeak;

    private ServerMonitor(IReadOnlyList<int> pids)
    {
        _pids = ProcSnapshot.Expand(pids);
        _first = Sample();
        _rssPeak = _first.RssMiB;
        _threadsPeak = _first.Threads;
        _fdsPeak = _first.Fds;
        _cpuStart = ProcSnapshot.CpuSeconds(_pids);
        _clientCpuStart = ProcSnapshot.SelfCpuSeconds();
        _startTimestamp = Stopwatch.GetTimestamp();
        _poller = PollAsync(_stop.Token);
    }

    public static ServerMonitor Start(IReadOnlyList<int> pids) => new(pids);

    /// <summary>A one-off reading of the server processes.</summary>
    public static ServerSample SampleOnce(IReadOnlyList<int> pids)
    {
        var all = ProcSnapshot.Expand(pids);
        var (rss, threads) = ProcSnapshot.Memory(all);
        return new ServerSample(rss, threads, ProcSnapshot.Fds(all), ProcSnapshot.CpuSeconds(all));
    }

    public async Task<MonitorResult> StopAsync()
    {
        await _stop.CancelAsync();
        await _poller;
        var last = Sample();
        Observe(last);
        return new MonitorResult
        {
            WallSeconds = Stopwatch.GetElapsedTime(_startTimestamp).TotalSeconds,
            ServerCpuSeconds = _pids.Count == 0 ? double.NaN : ProcSnapshot.CpuSeconds(_pids) - _cpuStart,
            ClientCpuSeconds = ProcSnapshot.SelfCpuSeconds() - _clientCpuStart,
            RssStartMiB = _first.RssMiB,
            RssPeakMiB = _rssPeak,
            RssEndMiB = last.RssMiB,
            ThreadsStart = _first.Threads,
            ThreadsPeak = _threadsPeak,
            ThreadsEnd = last.Threads,
            FdsStart = _first.Fds,
            FdsPeak = _fdsPeak,
            FdsEnd = last.Fds,
        };
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync();
            await _poller;
        }

        _stop.Dispose();
    }

    private ServerSample Sample()
    {
        var (rss, threads) = ProcSnapshot.Memory(_pids);
        return new ServerSample(rss, threads, ProcSnapshot.Fds(_pids), 0);
    }

    private void Observe(ServerSample sample)
    {
        _rssPeak = Math.Max(_rssPeak, sample.RssMiB);
        _threadsPeak = Math.Max(_threadsPeak, sample.Threads);
        _fdsPeak = Math.Max(_fdsPeak, sample.Fds);
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        if (_pids.Count == 0)
        {
            return;
        }

        using var timer = new PeriodicTimer(PollInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                Observe(Sample());
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }
}
