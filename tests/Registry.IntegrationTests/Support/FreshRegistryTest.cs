namespace Registry.IntegrationTests.Support;

/// <summary>
/// A registry of its own for each test, started with the settings given ("--Key=Value") on a fresh data
/// directory that is deleted after: for tests that fill its connection places or body slots, where what one
/// test leaves open must not decide the next.
/// </summary>
public abstract class FreshRegistryTest(params string[] settings) : IAsyncLifetime
{
    private readonly string _dataDir = TempDirectory.Create();

    /// <summary>The test's registry.</summary>
    protected Registry.EdgeHttp.RegistryInstance Instance { get; private set; } = null!;

    public async Task InitializeAsync() => Instance = await RegistryFixture.StartAsync(_dataDir, settings);

    public async Task DisposeAsync()
    {
        await Instance.DisposeAsync();
        TempDirectory.Delete(_dataDir);
    }
}
