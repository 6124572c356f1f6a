using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>Requests outside the API still get OCI error bodies, never plain-text pages.</summary>
public sealed class ProtocolTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    [Fact]
    public async Task UnknownV2Route_Returns404WithOciBody()
    {
        using var response = await Client.GetAsync($"/v2/{OciClient.UniqueRepo("route")}/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        OciAssert.ErrorCodes(await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PostToManifest_Returns405WithOciBody()
    {
        var repo = OciClient.UniqueRepo("method");
        await Client.PushImageAsync(repo, "latest");

        using var response = await Client.SendAsync(HttpMethod.Post, $"/v2/{repo}/manifests/latest", OciClient.Bytes([]));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("UNSUPPORTED", OciAssert.ErrorCodes(await response.Content.ReadAsStringAsync()));
    }

    [Fact]
    public async Task HeadManifestUppercaseDigest_IsNever200()
    {
        var repo = OciClient.UniqueRepo("head-upper");
        var image = await Client.PushImageAsync(repo, "latest");

        using var head = await Client.HeadAsync($"/v2/{repo}/manifests/sha256:{Digests.Hex(image.Digest).ToUpperInvariant()}");
        Assert.True(
            head.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.NotFound,
            "Uppercase manifest digest must not resolve: " + OciAssert.Describe(head));
    }

    [Fact]
    public async Task ErrorResponses_AllCarryApiVersionHeader()
    {
        using var response = await Client.GetAsync($"/v2/{OciClient.UniqueRepo("hdr")}/tags/list");
        await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
        OciAssert.HeaderEqual(response, "Docker-Distribution-API-Version", "registry/2.0");
    }

    [Fact]
    public async Task PostUpload_ForwardedHeadersByDefault_LocationStaysRelative()
    {
        var repo = OciClient.UniqueRepo("fwd");

        using var response = await Client.SendAsync(HttpMethod.Post, $"/v2/{repo}/blobs/uploads/", OciClient.Bytes([]), request =>
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-Host", "attacker.invalid");
            request.Headers.TryAddWithoutValidation("X-Forwarded-Proto", "https");
            request.Headers.TryAddWithoutValidation("Forwarded", "host=attacker.invalid;proto=https");
        });
        OciAssert.Status(response, HttpStatusCode.Accepted);
        OciAssert.Location(response, $"/v2/{repo}/blobs/uploads/");
    }
}
