namespace Registry.EdgeHttp.Pipeline;

internal sealed partial class RequestPipeline
{
    private static partial class Log
    {
        [LoggerMessage(EventId = 1100, EventName = "PipelineStageFaulted", Level = LogLevel.Critical,
            Message = "Pipeline stage {Stage} faulted; the edge can no longer serve requests")]
        public static partial void StageFaulted(ILogger logger, string stage, Exception exception);

        // Next free id: 1101.
    }
}
