using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Registry.Hosting.Observability.Admin;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Observability;

/// <summary>The admin endpoints: off by default, refused without the token, and returning loadable files.</summary>
[Collection(ObservabilityCollection.Name)]
public sealed class AdminTests
{
    private const string Token = "admin-test-token-5c1d8e0f";

    [Fact]
    public async Task ByDefault_AdminEndpointsAreOff()
    {
        var dataDir = TempDirectory.Create();
        try
        {
            await using var registry = await RegistryFixture.StartAsync(dataDir);
            Assert.Null(registry.Services.GetRequiredService<AdminServer>().Address);
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    [Fact]
    public async Task AnAddressWithoutAToken_RefusesToStart()
    {
        var dataDir = TempDirectory.Create();
        try
        {
            var failure = await Assert.ThrowsAnyAsync<Exception>(
                () => RegistryFixture.StartAsync(dataDir, "--Registry:Admin:Url=http://127.0.0.1:0"));
            Assert.Contains("Registry:Admin:Token", failure.ToString(), StringComparison.Ordinal);
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
            var address = registry.Services.GetRequiredService<AdminServer>().Address;
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
                Assert.True(bytes.Length > 1024, $"{bytes.Length} bytes");
                Assert.Equal("Nettrace", Encoding.ASCII.GetString(bytes, 0, 8));
            }

            using (var dump = await SendAsync(http, "/admin/dump", Token))
            {
                Assert.Equal(HttpStatusCode.OK, dump.StatusCode);
                await using var body = await dump.Content.ReadAsStreamAsync();
                var magic = new byte[4];
                await body.ReadExactlyAsync(magic);
                Assert.Equal(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F' }, magic);
            }
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient http, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }
}
