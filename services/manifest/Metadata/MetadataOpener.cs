namespace Registry.Manifest.Metadata;

/// <summary>
/// Opens the manifest database when the host starts instead of at the first request: a database that
/// cannot be opened stops the start instead of failing every manifest read, and the space reserve beside
/// it (see <see cref="Registry.Hosting.Sqlite.SqliteDatabase.ReserveBytes"/>) is made while there is room,
/// not when a full disk is first met.
/// </summary>
internal sealed class MetadataOpener(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _ = services.GetRequiredService<ManifestMetadataStore>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
