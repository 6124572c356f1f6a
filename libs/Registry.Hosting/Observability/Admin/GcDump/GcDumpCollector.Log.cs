using Microsoft.Extensions.Logging;

namespace Registry.Hosting.Observability.Admin.GcDump;

internal sealed partial class GcDumpCollector
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 133, EventName = "AdminHeapWalkTimedOut", Level = LogLevel.Warning,
            Message = "The runtime did not finish a heap walk within {Seconds} s; the GC heap dump is abandoned")]
        public static partial void HeapWalkTimedOut(ILogger logger, int seconds);

        [LoggerMessage(EventId = 134, EventName = "AdminCaptureStopFailed", Level = LogLevel.Warning,
            Message = "Stopping a diagnostics session failed; its stream was closed instead")]
        public static partial void CaptureStopFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 135, EventName = "AdminCaptureFileFailed", Level = LogLevel.Error,
            Message = "Writing a capture's temporary file failed; the session is still read to its end")]
        public static partial void CaptureFileFailed(ILogger logger, Exception exception);

        // AdminServer logs 130-132 and 136-137. Next free id: 138.
    }
}
