namespace Registry.Blob.Downloads;

internal sealed partial class DirectDownloadServer
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 4020, EventName = "DirectDownloadsListening", Level = LogLevel.Information,
            Message = "Direct downloads listen on {EndPoint}; redirects point at {PublicUrl}")]
        public static partial void Listening(ILogger logger, string endPoint, string publicUrl);

        [LoggerMessage(EventId = 4021, EventName = "DirectDownloadAcceptFailed", Level = LogLevel.Error,
            Message = "The direct download server could not accept a connection")]
        public static partial void AcceptFailed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 4022, EventName = "DirectDownloadConnectionCrashed", Level = LogLevel.Error,
            Message = "A direct download connection failed unexpectedly")]
        public static partial void ConnectionCrashed(ILogger logger, Exception exception);

        [LoggerMessage(EventId = 4023, EventName = "DirectDownloadsCut", Level = LogLevel.Warning,
            Message = "Shutdown ran out of time: closing {Connections} direct download connections")]
        public static partial void ShutdownCutTransfers(ILogger logger, int connections);

        [LoggerMessage(EventId = 4024, EventName = "DirectDownloadsFull", Level = LogLevel.Warning,
            Message = "The direct download server holds {Connections} connections, its limit: {Refused} connections refused with 503 since the last warning (Registry:Blob:DirectDownloads:MaxConnections; only a connection that has waited EvictWaitingAfter for a request head makes room)")]
        public static partial void AtCapacity(ILogger logger, int connections, long refused);

        // DownloadConnection uses 4025-4029.
    }
}
