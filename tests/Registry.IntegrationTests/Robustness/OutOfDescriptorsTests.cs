using System.Net;
using System.Runtime.InteropServices;
using Registry.IntegrationTests.Observability;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// A process with no file descriptor to spare (EMFILE) answers 503 UNAVAILABLE with Retry-After, not an
/// internal error, still answers scrapes, and serves again once descriptors are free. The limit is the test process's own, lowered
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

        // A descriptor below the limit freed meanwhile by the process (a pooled connection of an earlier test
        // closing, say) lets the GET open its file after all: then it is tried again, a few times at most.
        HttpResponseMessage refused = null!;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            refused?.Dispose();
            refused = await GetWithNoDescriptorFreeAsync(client, $"/v2/{repo}/blobs/{digest}");
            if (refused.StatusCode != HttpStatusCode.OK)
            {
                break;
            }
        }

        using (refused)
        {
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable, $"{(int)refused.StatusCode}: {body}");
            Assert.Contains("UNAVAILABLE", body, StringComparison.Ordinal);
            Assert.Contains("file descriptor", body, StringComparison.Ordinal);
            Assert.NotNull(refused.Headers.RetryAfter);
        }

        // A scrape needs no descriptor: it answers, and counts the refusal.
        using (var scrape = await GetWithNoDescriptorFreeAsync(client, "/metrics"))
        {
            var text = await scrape.Content.ReadAsStringAsync();
            Assert.True(scrape.StatusCode == HttpStatusCode.OK, $"{(int)scrape.StatusCode}: {text}");
            Assert.Matches(@"(?m)^registry_out_of_descriptors_total [1-9]", text);
            Assert.Matches(@"(?m)^process_open_handles [1-9]", text);
            Assert.Matches(@"(?m)^process_working_set_bytes [1-9]", text);
        }

        using var served = await client.GetAsync($"/v2/{repo}/blobs/{digest}");
        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        Assert.Equal(blob, await served.Content.ReadAsByteArrayAsync());
    }

    // Sends a GET while the process may open no further descriptor: the soft limit is set at the lowest free
    // number, and any number below it freed since is taken by a handle held until the answer.
    private static async Task<HttpResponseMessage> GetWithNoDescriptorFreeAsync(OciClient client, string path)
    {
        Assert.Equal(0, getrlimit(RlimitNofile, out var saved));
        var fillers = new List<Microsoft.Win32.SafeHandles.SafeFileHandle>();
        try
        {
            var limit = saved with { Current = LowestFreeDescriptor() };
            Assert.Equal(0, setrlimit(RlimitNofile, ref limit));
            for (var i = 0; i < 64; i++)
            {
                try
                {
                    fillers.Add(File.OpenHandle("/dev/null"));
                }
                catch (IOException)
                {
                    break;
                }
            }

            return await client.GetAsync(path);
        }
        finally
        {
            fillers.ForEach(handle => handle.Dispose());
            Assert.Equal(0, setrlimit(RlimitNofile, ref saved));
        }
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
