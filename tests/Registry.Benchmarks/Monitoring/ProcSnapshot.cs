using System.Globalization;

namespace Registry.Benchmarks.Monitoring;

/// <summary>
/// Reads /proc for a set of server processes and their direct children (for example nginx workers or a
/// split registry's services): CPU seconds, resident memory, threads and open descriptors.
/// </summary>
internal static class ProcSnapshot
{
    // USER_HZ, the unit of utime and stime in /proc/<pid>/stat, is 100 on every Linux architecture.
    private const double ClockTicksPerSecond = 100.0;

    /// <summary>The given processes plus their direct children, alive now.</summary>
    public static IReadOnlyList<int> Expand(IReadOnlyList<int> pids)
    {
        var all = new List<int>(pids);
        if (pids.Count == 0)
        {
            return all;
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
                || all.Contains(pid))
            {
                continue;
            }

            var fields = StatFields(pid);
            if (fields is not null && int.TryParse(fields[1], CultureInfo.InvariantCulture, out var parent)
                && pids.Contains(parent))
            {
                all.Add(pid);
            }
        }

        return all;
    }

    /// <summary>User plus system CPU seconds of the processes (exited ones count zero).</summary>
    public static double CpuSeconds(IReadOnlyList<int> pids)
    {
        double total = 0;
        foreach (var pid in pids)
        {
            var fields = StatFields(pid);
            if (fields is not null)
            {
                // After the ")": state(0) ppid(1) ... utime(11) stime(12).
                total += (long.Parse(fields[11], CultureInfo.InvariantCulture)
                    + long.Parse(fields[12], CultureInfo.InvariantCulture)) / ClockTicksPerSecond;
            }
        }

        return total;
    }

    /// <summary>Sum of VmRSS (MiB) and of thread counts.</summary>
    public static (double RssMiB, int Threads) Memory(IReadOnlyList<int> pids)
    {
        long rssKiB = 0;
        var threads = 0;
        foreach (var pid in pids)
        {
            try
            {
                foreach (var line in File.ReadLines($"/proc/{pid}/status"))
                {
                    if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    {
                        rssKiB += KiB(line);
                    }
                    else if (line.StartsWith("Threads:", StringComparison.Ordinal))
                    {
                        threads += int.Parse(line.AsSpan(8).Trim(), CultureInfo.InvariantCulture);
                    }
                }
            }
            catch (IOException)
            {
                // The process ended between listing and reading.
            }
        }

        return (rssKiB / 1024.0, threads);
    }

    /// <summary>Open file descriptors (sockets included) of the processes.</summary>
    public static int Fds(IReadOnlyList<int> pids)
    {
        var count = 0;
        foreach (var pid in pids)
        {
            try
            {
                count += Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd").Count();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone, or not ours to read.
            }
        }

        return count;
    }

    /// <summary>CPU seconds this process (the load generator) has used.</summary>
    public static double SelfCpuSeconds()
    {
        using var self = System.Diagnostics.Process.GetCurrentProcess();
        return self.TotalProcessorTime.TotalSeconds;
    }

    /// <summary>The fields of /proc/&lt;pid&gt;/stat after the command name, or null when unreadable.</summary>
    private static string[]? StatFields(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var close = text.LastIndexOf(')');
        return close < 0 ? null : text[(close + 2)..].Split(' ');
    }

    private static long KiB(string line)
    {
        var digits = line.AsSpan(line.IndexOf(':') + 1).Trim();
        var space = digits.IndexOf(' ');
        return long.Parse(space < 0 ? digits : digits[..space], CultureInfo.InvariantCulture);
    }
}
