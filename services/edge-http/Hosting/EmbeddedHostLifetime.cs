namespace Registry.EdgeHttp.Hosting;

/// <summary>
/// The lifetime of the services host inside the all-in-one process: it ignores SIGTERM and Ctrl+C, so
/// the services stop only after the edge has drained, when the process stops them itself.
/// </summary>
internal sealed class EmbeddedHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
