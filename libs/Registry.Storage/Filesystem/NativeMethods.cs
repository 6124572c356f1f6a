using System.Runtime.InteropServices;

namespace Registry.Storage.Filesystem;

/// <summary>The few libc calls .NET has no managed form for (flushing a folder after a rename).</summary>
internal static partial class NativeMethods
{
    /// <summary>O_RDONLY | O_DIRECTORY: 0x10000 on Linux x86-64, 0x4000 on Linux arm, 0x100000 on macOS.</summary>
    public static readonly int ReadOnlyDirectory = OperatingSystem.IsLinux()
        ? (RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x4000 : 0x10000)
        : 0x100000; // macOS

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    public static partial int SyncFileRange(int fd, long offset, long count, uint flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
}
