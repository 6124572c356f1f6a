using System.Net;
using System.Runtime.InteropServices;
using Registry.IntegrationTests.Observability;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// A process with no file descriptor to spare (EMFILE) answers 503 UNAVAILABLE with Retry-After, not an
/// internal error, and serves again once descriptors are free. The limit is the test process's own, lowered
/// for a moment with setrlimit (Linux), so the test runs alone (the collection runs after the parallel tests).
/// </summary>
[Collection(ObservabilityCollection.Name)]
public sealed class OutOfDescriptorsTests : IAsyncLifetime
{
    private const int RlimitNofile = 7; // RLIMIT_NOFILE on Linux

    private readonly string _dataDir = TempDirectory.Create();
    private Registry.EdgeHttp.RegistryInstance _registry = null!;

    public async Task InitializeAsync() => _registry = await RegistryFixture.StartAsync(_dataDir);

    public async Task DisposeAsync()
    {
        await _registry.DisposeAsync();
        TempDirectory.Delete(_dataDir);
    }

    [Fact]
    public async Task ABlobGet_WithoutADescriptorToOpenTheFile_Gets503_ThenIsServedAgain()
    {
        using var client = new OciClient(_registry.Address);
        var repo = OciClient.UniqueRepo("emfile");
        var blob = OciClient.RandomBytes(256 * 1024);
        var digest = await client.PushBlobAsync(repo, blob);
        // The client's one connection is open and idle: the GET below needs no new socket, only the blob's file.
        using (var warm = await client.GetAsync($"/v2/{repo}/blobs/{digest}"))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        // An error body once beforehand: the JIT build loads the JSON writer's escaping assembly on first use,
        // which itself needs a descriptor (the native build loads nothing).
        using (var unknown = await client.GetAsync($"/v2/{repo}/blobs/sha256:{new string('0', 64)}"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
            Assert.Contains("BLOB_UNKNOWN", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        HttpResponseMessage refused;
        Assert.Equal(0, getrlimit(RlimitNofile, out var saved));
        try
        {
            // The next descriptor would get the lowest free number; a soft limit at that number refuses it.
            var limit = saved with { Current = LowestFreeDescriptor() };
            Assert.Equal(0, setrlimit(RlimitNofile, ref limit));
            refused = await client.GetAsync($"/v2/{repo}/blobs/{digest}");
        }
        finally
        {
            Assert.Equal(0, setrlimit(RlimitNofile, ref saved));
        }

        using (refused)
        {
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)refused.StatusCode}: {body}");
            Assert.Contains("UNAVAILABLE", body, StringComparison.Ordinal);
            Assert.Contains("file descriptor", body, StringComparison.Ordinal);
            Assert.NotNull(refused.Headers.RetryAfter);
        }

        using var served = await client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal(blob, await served.Content.ReadAsByteArrayAsync());
    }

    // The kernel gives a new file the lowest free number: open one, note its number, close it.
    private static ulong LowestFreeDescriptor()
    {
        using var probe = File.OpenHandle("/dev/null");
        return (ulong)probe.DangerousGetHandle();
    }

    [StructLayout(LayoutKind.Sequential)]
    private record struct ResourceLimit(ulong Current, ulong Maximum);

    [DllImport("libc", SetLastError = true)]
    private static extern int getrlimit(int resource, out ResourceLimit limit);

    [DllImport("libc", SetLastError = true)]
    private static extern int setrlimit(int resource, ref ResourceLimit limit);
}
