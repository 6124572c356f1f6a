namespace Registry.Blob.Downloads;

internal sealed partial class DownloadConnection
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 4025, EventName = "DirectDownloadConnectionFailed", Level = LogLevel.Debug,
            Message = "A direct download connection ended: {Reason}")]
        public static partial void ConnectionFailed(ILogger logger, string reason);

        [LoggerMessage(EventId = 4026, EventName = "DirectDownloadAborted", Level = LogLevel.Debug,
            Message = "A direct download stopped after {Sent} of {Count} bytes: {Reason}")]
        public static partial void TransferAborted(ILogger logger, long sent, long count, string reason);

        [LoggerMessage(EventId = 4027, EventName = "DirectDownloadRejected", Level = LogLevel.Debug,
            Message = "A direct download of {Path} was refused: {Reason}")]
        public static partial void Rejected(ILogger logger, string path, string reason);

        // Next free id: 4028 (4029 is the last of the direct download range).
    }
}
