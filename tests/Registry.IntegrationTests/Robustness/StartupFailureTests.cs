using System.Net;
using System.Net.Sockets;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>An all-in-one registry that cannot start says why and leaves nothing of itself behind.</summary>
[Collection(Observability.ObservabilityCollection.Name)]
public sealed class StartupFailureTests
{
    [Fact]
    public async Task PortAlreadyTaken_FailsWithTheReason_AndLeavesNoPrivateSocket()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        var dataDir = TempDirectory.Create();

        // The in-process services listen on a private socket named after this process; registries of other
        // test classes may hold theirs meanwhile (this collection runs alone, so none starts during the test).
        var pattern = $"registry-{Environment.ProcessId}-*.sock";
        var before = Directory.GetFiles(Path.GetTempPath(), pattern).ToHashSet(StringComparer.Ordinal);
        try
        {
            var error = await Assert.ThrowsAnyAsync<IOException>(
                () => RegistryFixture.StartAsync(dataDir, "--urls", $"http://127.0.0.1:{port}"));

            Assert.Contains("address already in use", error.Message, StringComparison.OrdinalIgnoreCase);
            Assert.All(Directory.GetFiles(Path.GetTempPath(), pattern), path => Assert.Contains(path, before));
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }
}
