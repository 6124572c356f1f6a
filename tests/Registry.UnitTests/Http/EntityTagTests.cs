using Registry.Oci.Http;

namespace Registry.UnitTests.Http;

public sealed class EntityTagTests
{
    private const string Digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    [Theory]
    [InlineData("\"" + Digest + "\"")]
    [InlineData("W/\"" + Digest + "\"")]
    [InlineData("\"sha256:00\", \"" + Digest + "\"")]
    [InlineData(" *")]
    public void HasCurrentCopy_TagNamesTheDigestOrStar_True(string header) =>
        Assert.True(EntityTag.HasCurrentCopy(header, Digest));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("\"sha256:00\"")]
    [InlineData("\"" + Digest + "x\"")]
    public void HasCurrentCopy_NoTagOrAnotherTag_False(string? header) =>
        Assert.False(EntityTag.HasCurrentCopy(header, Digest));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("\"" + Digest + "\"")]
    [InlineData(" \"" + Digest + "\" ")]
    public void RangeApplies_NoIfRangeOrTheStrongTag_True(string? ifRange) =>
        Assert.True(EntityTag.RangeApplies(ifRange, Digest));

    [Theory]
    [InlineData("W/\"" + Digest + "\"")]
    [InlineData("\"sha256:00\"")]
    [InlineData(Digest)]
    [InlineData("Sat, 05 Dec 2026 10:00:00 GMT")]
    [InlineData("\"")]
    public void RangeApplies_WeakOtherUnquotedTagOrDate_False(string ifRange) =>
        Assert.False(EntityTag.RangeApplies(ifRange, Digest));
}
