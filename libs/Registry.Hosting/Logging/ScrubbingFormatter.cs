using Serilog.Events;
using Serilog.Formatting;

namespace Registry.Hosting.Logging;

/// <summary>
/// Writes a line with the exception's text scrubbed of credentials (an exception message may quote a
/// header or a signed URL). Properties are already clean (<see cref="SecretRedactor"/>); a line
/// without an exception, or with a clean one, is passed through as it is.
/// </summary>
internal sealed class ScrubbingFormatter(ITextFormatter inner) : ITextFormatter
{
    public void Format(LogEvent logEvent, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        if (logEvent.Exception is { } exception)
        {
            var text = exception.ToString();
            var scrubbed = SecretRedactor.ScrubInline(text);
            if (!ReferenceEquals(text, scrubbed))
            {
                logEvent = new LogEvent(
                    logEvent.Timestamp,
                    logEvent.Level,
                    new RedactedException(exception, scrubbed),
                    logEvent.MessageTemplate,
                    logEvent.Properties.Select(p => new LogEventProperty(p.Key, p.Value)),
                    logEvent.TraceId ?? default,
                    logEvent.SpanId ?? default);
            }
        }

        inner.Format(logEvent, output);
    }

    /// <summary>Stands in for an exception whose text held a credential; it prints as the scrubbed text.</summary>
    private sealed class RedactedException(Exception original, string text)
        : Exception(SecretRedactor.ScrubInline(original.Message))
    {
        public override string? StackTrace => null;

        public override string ToString() => text;
    }
}
