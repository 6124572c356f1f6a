namespace Registry.EdgeHttp;

/// <summary>A running registry: the edge and, in the all-in-one layout, the services beside it.</summary>
public sealed class RegistryInstance : IAsyncDisposable
{
    private readonly WebApplication _edge;
    private readonly WebApplication? _services;
    private readonly string? _socketPath;

    internal RegistryInstance(WebApplication edge, WebApplication? services, string? socketPath, Uri address)
    {
        _edge = edge;
        _services = services;
        _socketPath = socketPath;
        Address = address;
    }

    /// <summary>The edge's first listening address, e.g. http://127.0.0.1:5000/.</summary>
    public Uri Address { get; }

    /// <summary>The edge's services (tests read its meters and options through them).</summary>
    internal IServiceProvider EdgeServices => _edge.Services;

    /// <summary>Signalled when the edge begins to stop (SIGTERM, Ctrl+C).</summary>
    public CancellationToken Stopping => _edge.Lifetime.ApplicationStopping;

    /// <summary>How long in-flight requests get to finish once the edge stops (Registry:ShutdownGracePeriod).</summary>
    public TimeSpan ShutdownGracePeriod => _edge.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<HostOptions>>().Value.ShutdownTimeout;

    /// <summary>Completes when the edge has been asked to stop (SIGTERM, Ctrl+C).</summary>
    public Task WaitForShutdownAsync() => _edge.WaitForShutdownAsync();

    /// <summary>Stops the edge first (so in-flight requests still reach the services), then the services.</summary>
    public async ValueTask DisposeAsync()
    {
        await _edge.StopAsync(CancellationToken.None);
        await _edge.DisposeAsync();
        if (_services is not null)
        {
            await _services.StopAsync(CancellationToken.None);
            await _services.DisposeAsync();
        }

        if (_socketPath is not null)
        {
            File.Delete(_socketPath);
        }
    }
}
