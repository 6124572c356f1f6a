using Serilog.Core;
using Serilog.Events;

namespace Registry.Hosting.Logging;

/// <summary>
/// Keeps credentials out of every log line, whoever wrote it (our code, ASP.NET Core, gRPC): properties
/// named like a credential are replaced by "***", string values carrying an HTTP credential scheme are
/// replaced, and query strings (signed URLs, tokens in query parameters) are cut from any value that
/// carries one. Runs after the other enrichers, so scope properties are covered too.
/// </summary>
// TODO: exception messages and values nested inside structured properties are not scrubbed.
internal sealed class SecretRedactor : ILogEventEnricher
{
    /// <summary>What a removed secret is replaced by.</summary>
    public const string Mask = "***";

    private static readonly string[] SecretNames =
    [
        "authorization", "cookie", "password", "secret", "token", "credential", "apikey", "api_key", "querystring", "signature",
    ];

    private static readonly string[] Schemes = ["bearer ", "basic ", "negotiate ", "digest "];

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        List<LogEventProperty>? replacements = null;
        foreach (var (name, value) in logEvent.Properties)
        {
            if (value is not ScalarValue { Value: string text })
            {
                continue;
            }

            var scrubbed = IsSecretName(name) && text.Length > 0 ? Mask : Scrub(text);
            if (!ReferenceEquals(scrubbed, text))
            {
                (replacements ??= []).Add(new LogEventProperty(name, new ScalarValue(scrubbed)));
            }
        }

        if (replacements is not null)
        {
            foreach (var property in replacements)
            {
                logEvent.AddOrUpdateProperty(property);
            }
        }
    }

    /// <summary>A value without credentials: the same instance when it had none.</summary>
    internal static string Scrub(string text)
    {
        foreach (var scheme in Schemes)
        {
            if (text.Contains(scheme, StringComparison.OrdinalIgnoreCase))
            {
                return Mask;
            }
        }

        var query = text.IndexOf('?', StringComparison.Ordinal);
        return query >= 0 && query < text.Length - 1 && text.IndexOf('=', query) > query
            ? string.Concat(text.AsSpan(0, query + 1), Mask)
            : text;
    }

    private static bool IsSecretName(string name)
    {
        foreach (var secret in SecretNames)
        {
            if (name.Contains(secret, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
