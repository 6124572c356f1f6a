namespace Registry.EdgeHttp.Pipeline;

internal sealed partial class RequestPipeline
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1100, EventName = "PipelineStageFaulted", Level = LogLevel.Critical,
            Message = "Pipeline stage {Stage} faulted; the edge can no longer serve requests")]
        public static partial void StageFaulted(ILogger logger, string stage, Exception exception);

        [LoggerMessage(EventId = 1101, EventName = "SlowBodyCut", Level = LogLevel.Information,
            Message = "Cut off a {Route} body that brought {Bytes} bytes in {Seconds:0.#} s while the upload stage turned requests away")]
        public static partial void SlowBodyCut(ILogger logger, string route, long bytes, double seconds);

        // Next free id: 1102.
    }
}
