using Registry.Blob.Downloads;

namespace Registry.UnitTests.Blob.Downloads;

public sealed class DownloadTargetTests
{
    [Theory]
    [InlineData("/sha256/abc?expires=17&sig=XyZ", "sha256/abc", "sha256:abc", "17", "XyZ")]
    [InlineData("/blobs/sha512/def?sig=S&expires=9&other=1", "sha512/def", "sha512:def", "9", "S")]
    [InlineData("/sha256/abc", "sha256/abc", "sha256:abc", "", "")]
    public void TryParse_PathAndQuery_SplitsTheSignedPart(string target, string path, string digest, string expires, string signature)
    {
        Assert.True(DownloadTarget.TryParse(target, out var parsed));
        Assert.Equal(new DownloadTarget(path, digest, expires, signature), parsed);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/abc")]
    [InlineData("/sha256/")]
    [InlineData("//abc")]
    public void TryParse_NotTwoSegments_Fails(string target)
    {
        Assert.False(DownloadTarget.TryParse(target, out _));
    }
}
