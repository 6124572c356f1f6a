using System.Runtime.InteropServices;

namespace Registry.Hosting;

/// <summary>
/// The process's file descriptor limit (RLIMIT_NOFILE's soft value, which the runtime raises to the hard
/// one at start) and how many descriptors are open: bounds derived from them keep the edge from running
/// out (an accept that fails for want of a descriptor makes Kestrel's listener retry at once, at 100 % CPU).
/// </summary>
public static partial class DescriptorLimit
{
    private const int RlimitNofile = 7; // RLIMIT_NOFILE on Linux

    /// <summary>The soft limit, or null where it cannot be read (not Linux).</summary>
    public static long? Soft
    {
        get
        {
            if (!OperatingSystem.IsLinux() || GetLimit(RlimitNofile, out var limit) != 0)
            {
                return null;
            }

            return (long)Math.Min(limit.Current, long.MaxValue);
        }
    }

    /// <summary>Descriptors open now, or 0 where they cannot be counted.</summary>
    public static int Open
    {
        get
        {
            try
            {
                return OperatingSystem.IsLinux() ? Directory.GetFiles("/proc/self/fd").Length : 0;
            }
            catch (IOException)
            {
                return 0;
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct ResourceLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static partial int GetLimit(int resource, out ResourceLimit limit);
}
