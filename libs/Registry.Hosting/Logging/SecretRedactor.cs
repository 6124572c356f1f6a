using System.Text.RegularExpressions;
using Serilog.Core;
using Serilog.Events;

namespace Registry.Hosting.Logging;

/// <summary>
/// Keeps credentials out of every log line, whoever wrote it (our code, ASP.NET Core, gRPC): properties
/// named like a credential are replaced by "***", string values carrying an HTTP credential scheme are
/// replaced, and query strings (signed URLs, tokens in query parameters) are cut from any value that
/// carries one, at any depth of a structured value. Runs after the other enrichers, so scope properties
/// are covered too. Exceptions are scrubbed where they are written (<see cref="ScrubbingFormatter"/>).
/// </summary>
internal sealed partial class SecretRedactor : ILogEventEnricher
{
    /// <summary>What a removed secret is replaced by.</summary>
    public const string Mask = "***";

    private static readonly string[] SecretNames =
    [
        "authorization", "cookie", "password", "passwd", "pwd", "secret", "token", "credential", "apikey", "api_key", "querystring", "signature",
    ];

    private static readonly string[] Schemes = ["bearer ", "basic ", "negotiate ", "digest "];

    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        ArgumentNullException.ThrowIfNull(logEvent);
        List<LogEventProperty>? replacements = null;
        foreach (var (name, value) in logEvent.Properties)
        {
            var scrubbed = ScrubValue(name, value);
            if (!ReferenceEquals(scrubbed, value))
            {
                (replacements ??= []).Add(new LogEventProperty(name, scrubbed));
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

    /// <summary>
    /// Credentials cut out of free text (an exception's message and stack, a response body) while the
    /// rest stays readable: the credential after an HTTP scheme and every query string become "***".
    /// The same instance when there was nothing to cut.
    /// </summary>
    internal static string ScrubInline(string text)
    {
        var scrubbed = SchemeCredential().Replace(text, "$1 " + Mask);
        scrubbed = QueryString().Replace(scrubbed, "?" + Mask);
        return string.Equals(scrubbed, text, StringComparison.Ordinal) ? text : scrubbed;
    }

    /// <summary>A property value without credentials, at any depth: the same instance when it had none.</summary>
    internal static LogEventPropertyValue ScrubValue(string name, LogEventPropertyValue value)
    {
        switch (value)
        {
            case ScalarValue { Value: string text }:
                var scrubbed = IsSecretName(name) && text.Length > 0 ? Mask : Scrub(text);
                return ReferenceEquals(scrubbed, text) ? value : new ScalarValue(scrubbed);
            case StructureValue structure:
                List<LogEventProperty>? fields = null;
                for (var i = 0; i < structure.Properties.Count; i++)
                {
                    var field = structure.Properties[i];
                    var clean = ScrubValue(field.Name, field.Value);
                    if (fields is null && !ReferenceEquals(clean, field.Value))
                    {
                        fields = [.. structure.Properties.Take(i)];
                    }

                    fields?.Add(ReferenceEquals(clean, field.Value) ? field : new LogEventProperty(field.Name, clean));
                }

                return fields is null ? value : new StructureValue(fields, structure.TypeTag);
            case SequenceValue sequence:
                List<LogEventPropertyValue>? items = null;
                for (var i = 0; i < sequence.Elements.Count; i++)
                {
                    var clean = ScrubValue(name, sequence.Elements[i]);
                    if (items is null && !ReferenceEquals(clean, sequence.Elements[i]))
                    {
                        items = [.. sequence.Elements.Take(i)];
                    }

                    items?.Add(clean);
                }

                return items is null ? value : new SequenceValue(items);
            case DictionaryValue dictionary:
                var changed = false;
                var entries = new List<KeyValuePair<ScalarValue, LogEventPropertyValue>>(dictionary.Elements.Count);
                foreach (var (key, entry) in dictionary.Elements)
                {
                    var clean = ScrubValue(key.Value?.ToString() ?? string.Empty, entry);
                    changed |= !ReferenceEquals(clean, entry);
                    entries.Add(new(key, clean));
                }

                return changed ? new DictionaryValue(entries) : value;
            default:
                return value;
        }
    }

    /// <summary>A value without credentials: the same instance when it had none.</summary>
    internal static string Scrub(string text)
    {
        text = ScrubUserInfo(text);
        text = EscapeLineBreaks(text);
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

    /// <summary>"scheme://user:password@host…" without its user information: "scheme://***@host…".</summary>
    private static string ScrubUserInfo(string text)
    {
        var scheme = text.IndexOf("://", StringComparison.Ordinal);
        if (scheme < 0)
        {
            return text;
        }

        var authority = scheme + 3;
        var end = text.IndexOfAny(['/', '?', '#', ' '], authority);
        var at = text.LastIndexOf('@', end < 0 ? text.Length - 1 : end - 1);
        return at >= authority ? string.Concat(text.AsSpan(0, authority), Mask, text.AsSpan(at)) : text;
    }

    /// <summary>
    /// Line breaks a client put in a value (an encoded CR LF in a path) are written escaped, so a console
    /// log line cannot be split into a forged second one.
    /// </summary>
    private static string EscapeLineBreaks(string text) =>
        text.AsSpan().IndexOfAny('\r', '\n') < 0 ? text : text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

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

    [GeneratedRegex(@"(?i)\b(bearer|basic|negotiate|digest)\s+[^\s""',;]+")]
    private static partial Regex SchemeCredential();

    [GeneratedRegex(@"\?[^\s""'?=]*=[^\s""']*")]
    private static partial Regex QueryString();
}
