using Registry.EdgeHttp;

namespace Registry.EndToEndTests.Support;

/// <summary>
/// One all-in-one registry for the whole end-to-end collection, started in-process on a free
/// loopback port with a fresh data directory. Set E2E_REGISTRY_URL (e.g. http://127.0.0.1:5291)
/// to run the same tests against an external registry such as the reference implementation.
/// E2E_KEEP=1 keeps the temporary directory for inspection.
/// </summary>
public sealed class RegistryFixture : IAsyncLifetime
{
    private RegistryInstance? instance;

    /// <summary>Root temp dir: data/ for the registry, work/ for per-test client state.</summary>
    public string Root { get; } = Path.Combine(Path.GetTempPath(), "registry-e2e-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>host:port as clients spell it in image references, e.g. 127.0.0.1:40123.</summary>
    public string Host { get; private set; } = string.Empty;

    public Uri Address { get; private set; } = new("http://127.0.0.1/");

    public string DataDirectory => Path.Combine(Root, "data");


    /// <summary>podman refuses a --runroot longer than 50 characters, so run roots live in a short path.</summary>
    public string RunRootBase { get; } = Path.Combine("/tmp", "e2e-" + Guid.NewGuid().ToString("N")[..8]);

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(DataDirectory);
        var external = Environment.GetEnvironmentVariable("E2E_REGISTRY_URL");
        if (!string.IsNullOrWhiteSpace(external))
        {
            Address = new Uri(external);
        }
        else
        {
            using var startup = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            instance = await RegistryApp.StartAsync(["--urls", "http://127.0.0.1:0", "--data-dir", DataDirectory], startup.Token).ConfigureAwait(false);
            Address = instance.Address;
        }

        Host = Address.Authority;
        Assert.Equal("127.0.0.1", Address.Host);
    }

    /// <summary>A fresh working directory for one test (client stores, layouts, temp files).</summary>
    public TestWorkspace CreateWorkspace(string name, string? host = null)
    {
        var dir = Path.Combine(Root, "work", name + "-" + Guid.NewGuid().ToString("N")[..6]);
        return new TestWorkspace(dir, host ?? Host, Path.Combine(RunRootBase, Guid.NewGuid().ToString("N")[..6]));
    }

    public async Task DisposeAsync()
    {
        if (instance is not null)
        {
            await instance.DisposeAsync().ConfigureAwait(false);
        }
        if (Environment.GetEnvironmentVariable("E2E_KEEP") != "1")
        {
            foreach (var dir in new[] { Root, RunRootBase })
            {
                try
                {
                    if (Directory.Exists(dir))
                    {
                        Directory.Delete(dir, recursive: true);
                    }
                }
                catch (IOException)
                {
                    // best effort
                }
                catch (UnauthorizedAccessException)
                {
                    // best effort
                }
            }
        }
    }
}

[CollectionDefinition(Name)]
public sealed class RegistryCollection : ICollectionFixture<RegistryFixture>
{
    public const string Name = "registry";
}
