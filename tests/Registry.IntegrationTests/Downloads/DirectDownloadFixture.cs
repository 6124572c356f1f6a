using Registry.EdgeHttp;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Downloads;

/// <summary>
/// A registry with direct downloads on (ephemeral direct port, a known signing key so tests can make
/// their own URLs), shared by the tests of one class.
/// </summary>
public sealed class DirectDownloadFixture : IAsyncLifetime
{
    /// <summary>The signing key the registry runs with.</summary>
    public static readonly byte[] Key = Enumerable.Range(100, 32).Select(i => (byte)i).ToArray();

    private RegistryInstance? _instance;

    public string DataDir { get; } = TempDirectory.Create();

    /// <summary>A client for the edge that never follows redirects.</summary>
    public OciClient Client { get; private set; } = null!;

    /// <summary>Arguments that turn direct downloads on with <see cref="Key"/>.</summary>
    public static string[] Arguments =>
    [
        "--Registry:Blob:DirectDownloads:Enabled=true",
        "--Registry:Blob:DirectDownloads:SigningKey=" + Convert.ToBase64String(Key),
    ];

    public async Task InitializeAsync()
    {
        _instance = await RegistryFixture.StartAsync(DataDir, Arguments);
        Client = new OciClient(_instance.Address);
    }

    public async Task DisposeAsync()
    {
        Client?.Dispose();
        if (_instance is not null)
        {
            await _instance.DisposeAsync();
        }

        TempDirectory.Delete(DataDir);
    }
}
