using System.Diagnostics;
using System.Globalization;
using Microsoft.Win32.SafeHandles;
using Prometheus;

namespace Registry.Hosting.Observability;

/// <summary>
/// The process metrics, under the names prometheus-net gives them (<c>process_*</c>, <c>dotnet_*</c>), sampled
/// on each scrape without opening a file: <c>/proc/self/stat</c> and <c>/proc/self/statm</c> are opened once
/// and read again from their start. prometheus-net's own sampler opens them anew on every scrape, so with no
/// descriptor left (EMFILE) the whole scrape failed with 500, just when <c>registry_out_of_descriptors_total</c>
/// had something to say. What cannot be read without a descriptor (the count of open ones) keeps its last value.
/// </summary>
public sealed class ProcessStats
{
    private static readonly long PageSize = Environment.SystemPageSize;

    private readonly Lock _gate = new();
    private readonly SafeFileHandle? _stat;
    private readonly SafeFileHandle? _statm;
    private readonly byte[] _buffer = new byte[2048];

    private readonly Counter _cpuSeconds;
    private readonly Gauge _virtualBytes;
    private readonly Gauge _workingSetBytes;
    private readonly Gauge _privateBytes;
    private readonly Gauge _openHandles;
    private readonly Gauge _threads;
    private readonly Gauge _totalMemory;
    private readonly Counter.Child[] _collections;

    private ProcessStats(CollectorRegistry registry)
    {
        var metrics = Metrics.WithCustomRegistry(registry);
        _cpuSeconds = metrics.CreateCounter("process_cpu_seconds_total", "Processor time the process has used, user and system, in seconds.");
        _virtualBytes = metrics.CreateGauge("process_virtual_memory_bytes", "Virtual memory the process has mapped, in bytes.");
        _workingSetBytes = metrics.CreateGauge("process_working_set_bytes", "Physical memory resident for the process, in bytes.");
        _privateBytes = metrics.CreateGauge("process_private_memory_bytes", "The process's data and stack segments, in bytes.");
        _openHandles = metrics.CreateGauge("process_open_handles", "File descriptors the process has open (the last count read: reading needs a free descriptor).");
        _threads = metrics.CreateGauge("process_num_threads", "Threads of the process.");
        _totalMemory = metrics.CreateGauge("dotnet_total_memory_bytes", "Bytes the GC counts as allocated and not yet freed.");
        var collections = metrics.CreateCounter(
            "dotnet_collection_count_total", "Garbage collections of each generation.", new CounterConfiguration { LabelNames = ["generation"] });
        _collections = [.. Enumerable.Range(0, GC.MaxGeneration + 1).Select(g => collections.WithLabels(g.ToString(CultureInfo.InvariantCulture)))];
        metrics.CreateGauge("process_start_time_seconds", "When the process started, in seconds since the Unix epoch.")
            .Set((Process.GetCurrentProcess().StartTime.ToUniversalTime() - DateTime.UnixEpoch).TotalSeconds);

        if (OperatingSystem.IsLinux())
        {
            _stat = TryOpen("/proc/self/stat");
            _statm = TryOpen("/proc/self/statm");
        }
    }

    /// <summary>Exports the process metrics from <paramref name="registry"/>, sampled before each collection.</summary>
    public static ProcessStats Register(CollectorRegistry registry)
    {
        var stats = new ProcessStats(registry);
        registry.AddBeforeCollectCallback(stats.Sample);
        return stats;
    }

    /// <summary>The resident memory now, in bytes; that of the last sample when it cannot be read.</summary>
    public long ReadResidentBytes()
    {
        lock (_gate)
        {
            if (_statm is not null && ReadFields(_statm) is { Length: >= 2 } statm)
            {
                ResidentBytes = long.Parse(statm[1], CultureInfo.InvariantCulture) * PageSize;
            }

            return ResidentBytes;
        }
    }

    private long ResidentBytes { get; set; }

    private void Sample()
    {
        lock (_gate)
        {
            _cpuSeconds.IncTo(Environment.CpuUsage.TotalTime.TotalSeconds);
            _totalMemory.Set(GC.GetTotalMemory(forceFullCollection: false));
            for (var generation = 0; generation < _collections.Length; generation++)
            {
                _collections[generation].IncTo(GC.CollectionCount(generation));
            }

            if (!SampleProcFiles())
            {
                SampleThroughProcess();
            }

            try
            {
                _openHandles.Set(OperatingSystem.IsLinux() ? Directory.EnumerateFileSystemEntries("/proc/self/fd").Count() : Process.GetCurrentProcess().HandleCount);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // No descriptor to read the directory with: the last count stays.
            }
        }
    }

    // statm: pages of size, resident, shared, text, lib, data (+stack), dt. stat: the thread count is the 20th field.
    private bool SampleProcFiles()
    {
        if (_stat is null || _statm is null || ReadFields(_statm) is not { Length: >= 6 } statm || ReadFields(_stat) is not { Length: >= 20 } stat)
        {
            return false;
        }

        _virtualBytes.Set(long.Parse(statm[0], CultureInfo.InvariantCulture) * PageSize);
        ResidentBytes = long.Parse(statm[1], CultureInfo.InvariantCulture) * PageSize;
        _workingSetBytes.Set(ResidentBytes);
        _privateBytes.Set(long.Parse(statm[5], CultureInfo.InvariantCulture) * PageSize);
        _threads.Set(long.Parse(stat[20 - 3], CultureInfo.InvariantCulture));
        return true;
    }

    private void SampleThroughProcess()
    {
        try
        {
            using var process = Process.GetCurrentProcess();
            _virtualBytes.Set(process.VirtualMemorySize64);
            ResidentBytes = process.WorkingSet64;
            _workingSetBytes.Set(ResidentBytes);
            _privateBytes.Set(process.PrivateMemorySize64);
            _threads.Set(process.Threads.Count);
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or UnauthorizedAccessException)
        {
            // Not readable now: the last values stay.
        }
    }

    // The fields of a proc file read again from its start. For stat, those after the command name (which is in
    // parentheses and may hold spaces), so that field n (1-based) is at n - 3.
    private string[]? ReadFields(SafeFileHandle file)
    {
        int length;
        try
        {
            length = RandomAccess.Read(file, _buffer, 0);
        }
        catch (IOException)
        {
            return null;
        }

        var text = System.Text.Encoding.ASCII.GetString(_buffer, 0, length);
        var afterName = file == _stat ? text.LastIndexOf(')') + 1 : 0;
        return text[afterName..].Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    private static SafeFileHandle? TryOpen(string path)
    {
        try
        {
            return File.OpenHandle(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
