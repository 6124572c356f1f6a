using Microsoft.Data.Sqlite;
using Prometheus;
using Registry.Oci.Errors;

namespace Registry.Hosting;

/// <summary>
/// A write refused for want of space: the disk or the user's quota is full (ENOSPC, EDQUOT), or SQLite
/// could not grow its database or its shared-memory index (SQLITE_FULL, SQLITE_IOERR_SHMSIZE). The client gets <c>507</c> with an OCI body instead of an
/// internal error, and nothing else changes: reads go on, the storage breaker does not count it, and
/// a failed write leaves what was acknowledged as it was. Pushes work again once space is freed.
/// </summary>
public static class StorageFull
{
    /// <summary>The HTTP status of the answer: 507 Insufficient Storage (RFC 4918).</summary>
    public const int HttpStatus = 507;

    private const int NoSpace = 28; // ENOSPC on Linux
    private const int QuotaExceeded = 122; // EDQUOT on Linux
    private const int WindowsDiskFull = unchecked((int)0x80070070); // ERROR_DISK_FULL
    private const int WindowsHandleDiskFull = unchecked((int)0x80070027); // ERROR_HANDLE_DISK_FULL
    private const int SqliteFull = 13; // SQLITE_FULL
    private const int SqliteSharedMemoryFull = 10 | (19 << 8); // SQLITE_IOERR_SHMSIZE: the -shm index could not grow

    private static readonly Counter Refused = Metrics.CreateCounter(
        "registry_storage_full_total",
        "Requests answered 507 because a write found the disk, a quota or the metadata database full.");

    /// <summary>Makes <c>registry_storage_full_total</c> appear on /metrics (at 0) before any refusal.</summary>
    public static void PublishCounter() => Refused.Publish();

    /// <summary>Whether <paramref name="exception"/>, or one it wraps, is a write refused for want of space.</summary>
    public static bool Is(Exception? exception)
    {
        for (var depth = 0; exception is not null && depth < 4; depth++, exception = exception.InnerException)
        {
            switch (exception)
            {
                case SqliteException { SqliteErrorCode: SqliteFull }:
                case SqliteException { SqliteExtendedErrorCode: SqliteSharedMemoryFull }:
                case IOException { HResult: NoSpace or QuotaExceeded or WindowsDiskFull or WindowsHandleDiskFull }:
                    return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The client's answer, counted in <c>registry_storage_full_total</c>: 507 with the code UNKNOWN (the
    /// distribution spec has no code for it; distribution itself answers UNKNOWN with 500).
    /// </summary>
    public static OciException Answer(Exception cause)
    {
        ArgumentNullException.ThrowIfNull(cause);
        Refused.Inc();
        return new OciException(OciErrorCode.Unknown, "the registry storage is full", Describe(cause), HttpStatus);
    }

    // What filled up, for the operator and the client, without the server's paths.
    private static string Describe(Exception cause)
    {
        for (var exception = cause; exception is not null; exception = exception.InnerException)
        {
            if (exception is SqliteException)
            {
                return "the metadata database cannot grow";
            }

            if (exception is IOException { HResult: QuotaExceeded })
            {
                return "disk quota exceeded";
            }
        }

        return "no space left on the storage device";
    }
}
