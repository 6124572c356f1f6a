using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// Open upload sessions are capped (Registry:Blob:MaxOpenUploads): at the cap a POST is answered 429
/// TOOMANYREQUESTS with Retry-After and opens nothing, and a session that ends makes room again.
/// </summary>
[Collection(Observability.ObservabilityCollection.Name)]
public sealed class UploadSessionCapTests : IAsyncLifetime
{
    private const string RefusedTotal = "registry_upload_sessions_refused_total";

    private OwnRegistry _registry = null!;

    public async Task InitializeAsync() => _registry = await OwnRegistry.StartAsync("--Registry:Blob:MaxOpenUploads=2");

    public async Task DisposeAsync() => await _registry.DisposeAsync();

    [Fact]
    public async Task AtTheCap_APostIs429WithRetryAfter_AndOpensNothing_UntilASessionEnds()
    {
        var client = _registry.Client;
        var repo = OciClient.UniqueRepo("cap");
        var first = await client.StartUploadAsync(repo);
        var second = await client.StartUploadAsync(repo);
        var before = await MetricsScrape.TakeAsync(client.Http);
        Assert.True(before.Samples.ContainsKey(RefusedTotal), "the refusal counter is exported before any refusal");
        var refusedBefore = before.Value(RefusedTotal);

        using (var refused = await client.PostUploadAsync(repo))
        {
            await OciAssert.ErrorAsync(refused, HttpStatusCode.TooManyRequests, "TOOMANYREQUESTS");
            Assert.Equal("30", OciAssert.Header(refused, "Retry-After"));
            Assert.Null(OciAssert.Header(refused, "Location"));
        }

        var uploads = Path.Combine(_registry.DataDir, "docker", "registry", "v2", "_uploads");
        Assert.Equal(2, Directory.GetDirectories(uploads).Length);

        // A monolithic push needs a session too: refused the same way, before its body is taken.
        var blob = OciClient.RandomBytes(1024);
        var body = new ByteArrayContent(blob);
        body.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(OciClient.OctetStream);
        using (var monolithic = await client.SendAsync(HttpMethod.Post, $"/v2/{repo}/blobs/uploads/?digest={Digests.Sha256(blob)}", body))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, monolithic.StatusCode);
        }

        Assert.Equal(refusedBefore + 2, (await MetricsScrape.TakeAsync(client.Http)).Value(RefusedTotal));

        // Finishing one session and cancelling the other make room for two more.
        var digest = Digests.Sha256(blob);
        using (var put = await client.PutUploadAsync(first, digest, blob))
        {
            OciAssert.Status(put, HttpStatusCode.Created);
        }

        using (var cancel = await client.DeleteAsync(second))
        {
            OciAssert.Status(cancel, HttpStatusCode.NoContent);
        }

        var third = await client.StartUploadAsync(repo);
        var fourth = await client.StartUploadAsync(repo);
        Assert.NotEqual(third, fourth);
        using var head = await client.HeadAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(head, HttpStatusCode.OK);
    }
}
