using System.Runtime.InteropServices;

namespace Registry.Storage.Filesystem;

/// <summary>The few libc calls .NET has no managed form for (flushing a folder after a rename, uncached files).</summary>
internal static partial class NativeMethods
{
    /// <summary>EINVAL: among others, what open(2) answers when the filesystem cannot do O_DIRECT.</summary>
    public const int InvalidArgument = 22;

    private static readonly bool IsArm = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm;

    /// <summary>O_DIRECT on Linux: 0x4000 on x86-64, 0x10000 on arm. (Static fields are set in the order written: keep it above its users.)</summary>
    public static readonly int Uncached = IsArm ? 0x10000 : 0x4000;

    /// <summary>O_RDONLY | O_DIRECTORY: 0x10000 on Linux x86-64, 0x4000 on Linux arm, 0x100000 on macOS.</summary>
    public static readonly int ReadOnlyDirectory = OperatingSystem.IsLinux()
        ? (IsArm ? 0x4000 : 0x10000)
        : 0x100000; // macOS

    /// <summary>O_RDONLY | O_DIRECT | O_CLOEXEC on Linux.</summary>
    public static readonly int ReadOnlyUncached = Uncached | 0x80000;

    /// <summary>O_WRONLY | O_CREAT | O_EXCL | O_DIRECT | O_CLOEXEC on Linux: a new file, written past the page cache.</summary>
    public static readonly int CreateNewUncached = 0x1 | 0x40 | 0x80 | Uncached | 0x80000;

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    /// <summary>fcntl commands: read and set a descriptor's status flags.</summary>
    public const int GetStatusFlags = 3;
    public const int SetStatusFlags = 4;

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    public static partial int Fcntl(int fd, int command, int argument);

    [LibraryImport("libc", EntryPoint = "sync_file_range", SetLastError = true)]
    public static partial int SyncFileRange(int fd, long offset, long count, uint flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);
}
