using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Endpoints;

/// <summary>end-1: GET /v2/.</summary>
public sealed class BaseTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task GetV2_Anonymous_Returns200WithApiVersionHeader()
    {
        using var response = await Client.GetAsync("/v2/");
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.HeaderEqual(response, "Docker-Distribution-API-Version", "registry/2.0");
    }

    [Fact]
    public async Task HeadV2_Anonymous_Returns200WithApiVersionHeader()
    {
        using var response = await Client.HeadAsync("/v2/");
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.HeaderEqual(response, "Docker-Distribution-API-Version", "registry/2.0");
    }

    [Fact]
    public async Task Listen_Address_IsLoopback()
    {
        Assert.Equal("127.0.0.1", Fixture.Address.Host);
        Assert.NotEqual(0, Fixture.Address.Port);
        await Task.CompletedTask;
    }
}
