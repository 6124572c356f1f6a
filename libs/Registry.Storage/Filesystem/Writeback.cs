using Microsoft.Win32.SafeHandles;

namespace Registry.Storage.Filesystem;

/// <summary>
/// Starts writing a file's dirty pages to disk without waiting for them (Linux <c>sync_file_range</c>
/// with <c>SYNC_FILE_RANGE_WRITE</c>), so that the fsync which later makes the file durable finds its
/// bytes already on their way instead of submitting them itself. It guarantees nothing on its own;
/// elsewhere than Linux it does nothing.
/// </summary>
public static class Writeback
{
    private const uint SyncFileRangeWrite = 2;

    /// <summary>
    /// Starts the write-out of every dirty page of <paramref name="file"/>. Returns whether the kernel took
    /// the request; a failure is left to the fsync that follows, which reports it.
    /// </summary>
    public static bool Start(SafeFileHandle file)
    {
        if (!OperatingSystem.IsLinux() || file.IsInvalid || file.IsClosed)
        {
            return false;
        }

        var added = false;
        try
        {
            file.DangerousAddRef(ref added);
            return NativeMethods.SyncFileRange((int)file.DangerousGetHandle(), 0, 0, SyncFileRangeWrite) == 0;
        }
        finally
        {
            if (added)
            {
                file.DangerousRelease();
            }
        }
    }
}
