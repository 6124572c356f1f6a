using System.Net;
using Registry.EdgeHttp;

namespace Registry.IntegrationTests.Support;

/// <summary>
/// One all-in-one registry per test class, listening on a free 127.0.0.1 port with a fresh data
/// directory that is deleted when the class is done. Tests use unique repository names so they can
/// share it.
/// </summary>
public class RegistryFixture : IAsyncLifetime
{
    private RegistryInstance? _instance;

    /// <summary>The data directory this registry stores into.</summary>
    public string DataDir { get; } = TempDirectory.Create();

    /// <summary>The registry's base address.</summary>
    public Uri Address => _instance?.Address ?? throw new InvalidOperationException("The registry has not started.");

    /// <summary>A client for the registry that never follows redirects.</summary>
    public OciClient Client { get; private set; } = null!;

    /// <summary>Settings ("--Key=Value") the registry starts with; none by default.</summary>
    protected virtual string[] Settings => [];

    public async Task InitializeAsync()
    {
        _instance = await StartAsync(DataDir, Settings);
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

    /// <summary>Starts a registry on the given data directory, bounded by <see cref="Timeouts.Start"/>.</summary>
    public static async Task<RegistryInstance> StartAsync(string dataDir, params string[] extraArgs)
    {
        using var cts = new CancellationTokenSource(Timeouts.Start);
        string[] args = ["--urls", "http://127.0.0.1:0", "--data-dir", dataDir, .. extraArgs];
        var instance = await RegistryApp.StartAsync(args, cts.Token).WaitAsync(Timeouts.Start);
        Assert.Equal(IPAddress.Loopback.ToString(), instance.Address.Host);
        return instance;
    }
}

/// <summary>
/// The shared registry with upload bodies streamed over gRPC (Registry:Edge:DirectUploadWrites=false), as
/// when the edge does not share the blob service's filesystem: upload tests run against both paths.
/// </summary>
public sealed class StreamedUploadsFixture : RegistryFixture
{
    protected override string[] Settings => ["--Registry:Edge:DirectUploadWrites=false"];
}
