using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Diagnostics.Runtime;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Extensions.DependencyInjection;
using Registry.Hosting.Observability.Admin;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Observability;

/// <summary>The admin endpoints: off by default, refused without the token, and returning loadable files.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class AdminTests
{
    private const string Token = "admin-test-token-5c1d8e0f";

    // Microsoft-DotNETCore-SampleProfiler and Microsoft-Windows-DotNETRuntimeRundown.
    private static readonly Guid SampleProfiler = new("3c530d44-97ae-513a-1e6d-783e8f8e03a9");
    private static readonly Guid RuntimeRundown = new("a669021c-c450-4609-a035-5af59af4df18");

    [Fact]
    public async Task ByDefault_AdminEndpointsAreOff()
    {
        var dataDir = TempDirectory.Create();
        try
        {
            await using var registry = await RegistryFixture.StartAsync(dataDir);
            Assert.Null(registry.EdgeServices.GetRequiredService<AdminServer>().Address);
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("short-token")]
    [InlineData("               x")]
    [InlineData(" a-long-enough-token")]
    public async Task AnAddressWithoutAUsableToken_RefusesToStart(string? token)
    {
        var dataDir = TempDirectory.Create();
        try
        {
            string[] args = token is null
                ? ["--Registry:Admin:Url=http://127.0.0.1:0"]
                : ["--Registry:Admin:Url=http://127.0.0.1:0", $"--Registry:Admin:Token={token}"];
            var failure = await Assert.ThrowsAnyAsync<Exception>(() => RegistryFixture.StartAsync(dataDir, args));
            Assert.Contains("Registry:Admin:Token", failure.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    [Fact]
    public async Task ATraceWhoseClientLeaves_LeavesTheRegistryServingAndTheSlotFree()
    {
        var dataDir = TempDirectory.Create();
        try
        {
            await using var registry = await RegistryFixture.StartAsync(
                dataDir, "--Registry:Admin:Url=http://127.0.0.1:0", $"--Registry:Admin:Token={Token}");
            var address = registry.EdgeServices.GetRequiredService<AdminServer>().Address!;
            using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(2) };
            using var client = new OciClient(registry.Address);

            // Ask for a 5 s trace and hang up after one second, before any byte of it arrives.
            using (var leave = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
            {
                await Assert.ThrowsAnyAsync<OperationCanceledException>(() => SendAsync(http, "/admin/trace?seconds=5", Token, leave.Token));
            }

            // The registry keeps answering while and after the capture winds down.
            for (var i = 0; i < 20; i++)
            {
                using var ping = await client.GetAsync("/v2/");
                Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
                await Task.Delay(100);
            }

            // The capture slot comes free again (bounded wait), and a bad duration is refused, not defaulted.
            HttpStatusCode status = HttpStatusCode.Conflict;
            for (var i = 0; i < 100 && status == HttpStatusCode.Conflict; i++)
            {
                using var again = await SendAsync(http, "/admin/trace?seconds=1", Token);
                status = again.StatusCode;
                if (status == HttpStatusCode.Conflict)
                {
                    await Task.Delay(200);
                }
            }

            Assert.Equal(HttpStatusCode.OK, status);
            using var bad = await SendAsync(http, "/admin/trace?seconds=-1", Token);
            Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    [Fact]
    public async Task WithTheToken_CountersTraceAndDumpAreServed()
    {
        var dataDir = TempDirectory.Create();
        try
        {
            await using var registry = await RegistryFixture.StartAsync(
                dataDir, "--Registry:Admin:Url=http://127.0.0.1:0", $"--Registry:Admin:Token={Token}");
            var address = registry.EdgeServices.GetRequiredService<AdminServer>().Address;
            Assert.NotNull(address);
            Assert.NotEqual(registry.Address.Port, address.Port);
            using var http = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromMinutes(2) };

            using (var anonymous = await http.GetAsync("/admin/counters"))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
            }

            using (var wrong = await SendAsync(http, "/admin/counters", "not-the-token"))
            {
                Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
            }

            using (var counters = await SendAsync(http, "/admin/counters", Token))
            {
                Assert.Equal(HttpStatusCode.OK, counters.StatusCode);
                using var json = JsonDocument.Parse(await counters.Content.ReadAsStringAsync());
                Assert.True(json.RootElement.GetProperty("gcHeapSizeBytes").GetInt64() > 0);
                Assert.Equal(Environment.ProcessId, json.RootElement.GetProperty("pid").GetInt32());
            }

            using (var trace = await SendAsync(http, "/admin/trace?seconds=1", Token))
            {
                Assert.Equal(HttpStatusCode.OK, trace.StatusCode);
                var bytes = await trace.Content.ReadAsByteArrayAsync();
                Assert.Equal("Nettrace", Encoding.ASCII.GetString(bytes, 0, 8));

                // The file opens with TraceEvent (what PerfView and dotnet-trace read it with) and holds CPU samples.
                using var source = new EventPipeEventSource(new MemoryStream(bytes));
                var samples = 0;
                var methods = 0;
                source.AllEvents += e =>
                {
                    if (e.ProviderGuid == SampleProfiler)
                    {
                        samples++;
                    }
                    else if (e.ProviderGuid == RuntimeRundown)
                    {
                        methods++;
                    }
                };
                source.Process();
                Assert.True(samples > 0, "the trace holds no CPU samples");
                Assert.True(methods > 0, "the trace holds no rundown, so its stacks would not resolve to methods");
            }

            var dumpFile = Path.Combine(dataDir, "registry.dmp");
            using (var dump = await SendAsync(http, "/admin/dump", Token))
            {
                Assert.Equal(HttpStatusCode.OK, dump.StatusCode);
                await using var file = File.Create(dumpFile);
                await dump.Content.CopyToAsync(file);
            }

            // The dump opens with ClrMD (what dotnet-dump reads it with), and its heap holds the edge's objects.
            using (var target = DataTarget.LoadDump(dumpFile))
            {
                using var runtime = target.ClrVersions[0].CreateRuntime();
                var found = false;
                var seen = 0;
                foreach (var obj in runtime.Heap.EnumerateObjects())
                {
                    if (obj.Type?.Name == "Registry.EdgeHttp.Http.OciEndpoint" || ++seen > 20_000_000)
                    {
                        found = obj.Type?.Name == "Registry.EdgeHttp.Http.OciEndpoint";
                        break;
                    }
                }

                Assert.True(found, "the dump's heap has no OciEndpoint");
            }
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string path, string token, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
    }
}
