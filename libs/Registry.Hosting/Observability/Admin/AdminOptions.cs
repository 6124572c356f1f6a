namespace Registry.Hosting.Observability.Admin;

/// <summary>The admin (profiling) endpoints' settings, bound from "Registry:Admin".</summary>
public sealed class AdminOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Registry:Admin";

    /// <summary>Where the admin endpoints listen, e.g. "http://127.0.0.1:9200". Empty (the default): off.</summary>
    public string Url { get; set; } = string.Empty;

    /// <summary>The bearer token every admin request must carry. Required when <see cref="Url"/> is set.</summary>
    public string Token { get; set; } = string.Empty;

    /// <summary>The longest CPU trace a request may ask for. Default 120 seconds.</summary>
    public int MaxTraceSeconds { get; set; } = 120;

    /// <summary>
    /// How long a GC heap dump (/admin/gcdump) may wait for the runtime's heap walk before it is abandoned
    /// with 503. Default 60 seconds; the walk of a heap of a few hundred MB takes a few seconds.
    /// </summary>
    public int GcDumpTimeoutSeconds { get; set; } = 60;
}
