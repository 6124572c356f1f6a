namespace Registry.IntegrationTests.Support;

/// <summary>
/// A registry a test class starts for itself, with settings of its own (command-line style
/// "--Key=Value" arguments), on a fresh data folder that is deleted with it.
/// </summary>
public sealed class OwnRegistry : IAsyncDisposable
{
    private OwnRegistry(string dataDir, Registry.EdgeHttp.RegistryInstance instance)
    {
        DataDir = dataDir;
        Instance = instance;
        Client = new OciClient(instance.Address);
    }

    /// <summary>The data folder.</summary>
    public string DataDir { get; }

    /// <summary>The running registry.</summary>
    public Registry.EdgeHttp.RegistryInstance Instance { get; }

    /// <summary>The registry's base address.</summary>
    public Uri Address => Instance.Address;

    /// <summary>A client of the registry.</summary>
    public OciClient Client { get; }

    /// <summary>Starts a registry with <paramref name="settings"/>.</summary>
    public static async Task<OwnRegistry> StartAsync(params string[] settings)
    {
        var dataDir = TempDirectory.Create();
        try
        {
            return new OwnRegistry(dataDir, await RegistryFixture.StartAsync(dataDir, settings));
        }
        catch
        {
            TempDirectory.Delete(dataDir);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Instance.DisposeAsync();
        TempDirectory.Delete(DataDir);
    }
}
