using Registry.Oci.Digests;

namespace Registry.UnitTests.Digests;

public sealed class DigestAlgorithmsTests
{
    [Theory]
    [InlineData("sha256", DigestAlgorithm.Sha256)]
    [InlineData("sha512", DigestAlgorithm.Sha512)]
    public void TryParse_KnownName_ReturnsAlgorithm(string name, DigestAlgorithm expected)
    {
        Assert.True(DigestAlgorithms.TryParse(name, out var algorithm));
        Assert.Equal(expected, algorithm);
        Assert.Equal(name, algorithm.Name());
    }

    [Theory]
    [InlineData("SHA256")]
    [InlineData("Sha512")]
    [InlineData("sha384")]
    [InlineData("md5")]
    [InlineData("")]
    public void TryParse_UnknownOrWrongCase_Fails(string name)
    {
        Assert.False(DigestAlgorithms.TryParse(name, out _));
    }

    [Theory]
    [InlineData(DigestAlgorithm.Sha256, 64)]
    [InlineData(DigestAlgorithm.Sha512, 128)]
    public void HexLength_Algorithm_IsTwiceHashSize(DigestAlgorithm algorithm, int expected)
    {
        Assert.Equal(expected, algorithm.HexLength());
        using var hash = algorithm.CreateHash();
        Assert.Equal(expected / 2, hash.HashLengthInBytes);
    }
}
