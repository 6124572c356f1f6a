using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Registry.Hosting.Memory;

/// <summary>
/// Gives the pages of a pinned byte array back to the system while the array lives on (Linux
/// <c>madvise(MADV_DONTNEED)</c>): they read as zeros afterwards and come back as they are written.
/// Only the whole pages strictly inside the array's data are given back, never one it shares with the
/// object's header or a neighbour, and the GC never reads a byte array's contents.
/// </summary>
internal static partial class PageRelease
{
    private const int MadviseDontNeed = 4;

    private static readonly int PageSize = Environment.SystemPageSize;

    // Set once a call failed (a kernel or sandbox without madvise): the pool then lets blocks go to the GC.
    private static volatile bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>Whether pages can be given back here (Linux, and no call has failed).</summary>
    public static bool Available => !_unavailable;

    /// <summary>Gives back the whole pages inside <paramref name="pinned"/>; false when none could be.</summary>
    public static unsafe bool Release(byte[] pinned)
    {
        if (_unavailable || pinned.Length == 0)
        {
            return false;
        }

        var start = (nuint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
        var end = start + (nuint)pinned.Length;
        var page = (nuint)PageSize;
        var first = (start + page - 1) & ~(page - 1);
        var last = end & ~(page - 1);
        if (last <= first)
        {
            // A block of about one page shares its pages with its neighbours: nothing to give back alone.
            return false;
        }

        if (Madvise(first, last - first, MadviseDontNeed) != 0)
        {
            _unavailable = true;
            return false;
        }

        return true;
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nuint address, nuint length, int advice);
}
