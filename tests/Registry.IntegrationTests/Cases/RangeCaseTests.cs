using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Cases;

/// <summary>BL-19 of shared/cases/http-cases.md: blob Range GET on a 4096-byte blob.</summary>
public sealed class RangeCaseTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    private const int Length = 4096;

    [Theory]
    [InlineData("bytes=500-1499", 500, 1499)]
    [InlineData("bytes=500-", 500, 4095)]
    [InlineData("bytes=-500", 3596, 4095)]
    [InlineData("bytes=2000-5000", 2000, 4095)]
    public async Task BL19_SatisfiableRange_Returns206WithContentRange(string range, int first, int last)
    {
        var (repo, digest, data) = await PushAsync("bl19-206");

        using var response = await GetWithRangeAsync(repo, digest, range);
        OciAssert.Status(response, HttpStatusCode.PartialContent);
        OciAssert.HeaderEqual(response, "Content-Range", $"bytes {first}-{last}/{Length}");
        OciAssert.ContentLength(response, last - first + 1);
        Assert.Equal(data[first..(last + 1)], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task BL19_FirstAfterLast_Returns416()
    {
        var (repo, digest, _) = await PushAsync("bl19-reversed");

        using var response = await GetWithRangeAsync(repo, digest, "bytes=500-0");
        OciAssert.Status(response, HttpStatusCode.RequestedRangeNotSatisfiable);
        OciAssert.HeaderEqual(response, "Content-Range", $"bytes */{Length}");
    }

    [Fact]
    public async Task BL19_RangeBeyondEnd_Returns416WithContentRangeStar()
    {
        var (repo, digest, _) = await PushAsync("bl19-beyond");

        using var response = await GetWithRangeAsync(repo, digest, "bytes=5000-10000");
        OciAssert.Status(response, HttpStatusCode.RequestedRangeNotSatisfiable);
        OciAssert.HeaderEqual(response, "Content-Range", $"bytes */{Length}");
    }

    [Fact]
    public async Task BL19_MultiRange_Returns200WithFullBody()
    {
        var (repo, digest, data) = await PushAsync("bl19-multi");

        using var response = await GetWithRangeAsync(repo, digest, "bytes=0-9,100-199");
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.Equal(data, await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task BL19_FullGet_AdvertisesAcceptRanges()
    {
        var (repo, digest, data) = await PushAsync("bl19-full");

        using var response = await Client.GetAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(response, HttpStatusCode.OK);
        OciAssert.HeaderEqual(response, "Accept-Ranges", "bytes");
        OciAssert.ContentLength(response, Length);
        Assert.Equal(data, await response.Content.ReadAsByteArrayAsync());
    }

    private async Task<(string Repo, string Digest, byte[] Data)> PushAsync(string prefix)
    {
        var repo = OciClient.UniqueRepo(prefix);
        var data = OciClient.RandomBytes(Length);
        return (repo, await Client.PushBlobAsync(repo, data), data);
    }

    private Task<HttpResponseMessage> GetWithRangeAsync(string repo, string digest, string range) =>
        Client.GetAsync($"/v2/{repo}/blobs/{digest}", request => request.Headers.TryAddWithoutValidation("Range", range));
}
