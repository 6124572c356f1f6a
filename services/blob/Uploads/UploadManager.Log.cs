
namespace Registry.Blob.Uploads;

internal sealed partial class UploadManager
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 4001, EventName = "UploadStarted", Level = LogLevel.Debug,
            Message = "Upload {UploadId} started in {Repository}")]
        public static partial void UploadStarted(ILogger logger, string uploadId, string repository);

        [LoggerMessage(EventId = 4002, EventName = "ChunkAppended", Level = LogLevel.Trace,
            Message = "Upload {UploadId} took {Bytes} bytes, now holds {Size}")]
        public static partial void ChunkAppended(ILogger logger, string uploadId, long bytes, long size);

        [LoggerMessage(EventId = 4003, EventName = "UploadCommitted", Level = LogLevel.Debug,
            Message = "Upload {UploadId} committed as {Digest} ({Size} bytes)")]
        public static partial void UploadCommitted(ILogger logger, string uploadId, string digest, long size);

        [LoggerMessage(EventId = 4004, EventName = "UploadCleanupFailed", Level = LogLevel.Warning,
            Message = "Could not delete the bytes of upload {UploadId}")]
        public static partial void CleanupFailed(ILogger logger, string uploadId, Exception exception);

        [LoggerMessage(EventId = 4005, EventName = "UploadRecovered", Level = LogLevel.Warning,
            Message = "Upload {UploadId} had been moved to blob {Digest} but not recorded (a crash in between); recorded it now")]
        public static partial void UploadRecovered(ILogger logger, string uploadId, string digest);

        [LoggerMessage(EventId = 4006, EventName = "UploadSessionsReclaimed", Level = LogLevel.Information,
            Message = "Ended {Count} idle upload sessions to stay within the cap of {Cap} open sessions")]
        public static partial void SessionsReclaimed(ILogger logger, int count, int cap);

        [LoggerMessage(EventId = 4007, EventName = "UploadSessionCapReached", Level = LogLevel.Warning,
            Message = "{Refused} new uploads refused (since the last such warning, at most every 10 s): {Cap} upload sessions are open and none has been idle long enough to end")]
        public static partial void SessionCapReached(ILogger logger, int cap, long refused);

        // Next free id: 4008 (UploadPurger uses 4010-4019).
    }
}
