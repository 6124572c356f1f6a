using System.Net;

namespace Registry.Benchmarks.Scenarios;

/// <summary>One registry under test: where it listens, what it is called and which processes are its server.</summary>
internal sealed class RegistryTarget
{
    public RegistryTarget(string label, Uri baseUri, IReadOnlyList<int> pids, string? uploadsGlob, Uri? metricsUri = null)
    {
        ArgumentNullException.ThrowIfNull(baseUri);
        if (!IPAddress.TryParse(baseUri.Host, out var address) || !IPAddress.IsLoopback(address))
        {
            throw new ArgumentException($"only loopback registries are benchmarked, not '{baseUri.Host}'", nameof(baseUri));
        }

        Label = label;
        BaseUri = baseUri;
        Pids = pids;
        UploadsGlob = uploadsGlob;
        MetricsUri = metricsUri;
        EndPoint = new IPEndPoint(address, baseUri.Port);
        Host = $"{baseUri.Host}:{baseUri.Port}";
    }

    public string Label { get; }

    /// <summary>A static file server (the nginx anchor): it holds the fixtures as files and runs only the scenarios it can answer.</summary>
    public bool IsStaticServer { get; init; }

    public Uri BaseUri { get; }

    public IReadOnlyList<int> Pids { get; }

    /// <summary>A path pattern (with * segments) whose matches are upload sessions on disk, or null.</summary>
    public string? UploadsGlob { get; }

    /// <summary>Its Prometheus endpoint, when it has one: GC pauses and cancellations are read from it.</summary>
    public Uri? MetricsUri { get; }

    public IPEndPoint EndPoint { get; }

    /// <summary>The Host header value.</summary>
    public string Host { get; }

    /// <summary>Turns a Location header (absolute or relative) into the path and query to request.</summary>
    public static string PathOf(string location)
    {
        if (location.StartsWith('/'))
        {
            return location;
        }

        return Uri.TryCreate(location, UriKind.Absolute, out var uri) ? uri.PathAndQuery : "/" + location;
    }

    /// <summary>Appends a query parameter to a path that may already carry a query.</summary>
    public static string WithQuery(string pathAndQuery, string name, string value) =>
        pathAndQuery + (pathAndQuery.Contains('?') ? '&' : '?') + name + "=" + Uri.EscapeDataString(value);
}
