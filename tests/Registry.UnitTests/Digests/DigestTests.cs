using System.Text;
using Registry.Oci.Digests;

namespace Registry.UnitTests.Digests;

public sealed class DigestTests
{
    private const string EmptySha256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    private const string EmptySha512 =
        "sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        + "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e";

    [Fact]
    public void TryParse_LowercaseSha256_Succeeds()
    {
        Assert.True(Digest.TryParse(EmptySha256, out var digest));
        Assert.Equal(DigestAlgorithm.Sha256, digest.Algorithm);
        Assert.Equal(EmptySha256, digest.Value);
        Assert.Equal(EmptySha256["sha256:".Length..], digest.Hex.ToString());
        Assert.False(digest.IsEmpty);
    }

    [Fact]
    public void TryParse_LowercaseSha512_Succeeds()
    {
        Assert.True(Digest.TryParse(EmptySha512, out var digest));
        Assert.Equal(DigestAlgorithm.Sha512, digest.Algorithm);
        Assert.Equal(128, digest.Hex.Length);
    }

    [Fact]
    public void TryParse_UppercaseHex_Fails()
    {
        Assert.False(Digest.TryParse("sha256:" + EmptySha256["sha256:".Length..].ToUpperInvariant(), out _));
    }

    [Fact]
    public void TryParse_OneUppercaseHexCharacter_Fails()
    {
        var text = EmptySha256.Replace("e3b0", "E3b0", StringComparison.Ordinal);
        Assert.False(Digest.TryParse(text, out _));
    }

    [Fact]
    public void TryParse_UppercaseAlgorithm_Fails()
    {
        Assert.False(Digest.TryParse("SHA256:" + EmptySha256["sha256:".Length..], out _));
    }

    [Theory]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555")]
    [InlineData("sha256:")]
    [InlineData("sha256:baddigeststring")]
    public void TryParse_WrongLengthSha256_Fails(string text)
    {
        Assert.False(Digest.TryParse(text, out _));
    }

    [Fact]
    public void TryParse_Sha512WithSha256Length_Fails()
    {
        Assert.False(Digest.TryParse("sha512:" + EmptySha256["sha256:".Length..], out _));
    }

    [Fact]
    public void TryParse_Sha256WithSha512Length_Fails()
    {
        Assert.False(Digest.TryParse("sha256:" + EmptySha512["sha512:".Length..], out _));
    }

    [Theory]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("sha384:38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b")]
    [InlineData("blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262")]
    [InlineData("sha256+b64u:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public void TryParse_UnknownAlgorithm_Fails(string text)
    {
        Assert.False(Digest.TryParse(text, out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData(":")]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData(":e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData(" sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 ")]
    [InlineData("sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    [InlineData("sha256::3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public void TryParse_Malformed_Fails(string? text)
    {
        Assert.False(Digest.TryParse(text, out var digest));
        Assert.True(digest.IsEmpty);
    }

    [Fact]
    public void Parse_Invalid_ThrowsFormatException()
    {
        Assert.Throws<FormatException>(() => Digest.Parse("sha256:abc"));
    }

    [Fact]
    public void Parse_Valid_ReturnsSameValue()
    {
        Assert.Equal(EmptySha256, Digest.Parse(EmptySha256).Value);
    }

    [Fact]
    public void Compute_EmptySha256_MatchesKnownValue()
    {
        Assert.Equal(EmptySha256, Digest.Compute(DigestAlgorithm.Sha256, ReadOnlySpan<byte>.Empty).Value);
    }

    [Fact]
    public void Compute_EmptySha512_MatchesKnownValue()
    {
        Assert.Equal(EmptySha512, Digest.Compute(DigestAlgorithm.Sha512, ReadOnlySpan<byte>.Empty).Value);
    }

    [Fact]
    public void Compute_KnownInput_MatchesKnownSha256()
    {
        var digest = Digest.Compute(DigestAlgorithm.Sha256, Encoding.ASCII.GetBytes("abc"));
        Assert.Equal("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", digest.Value);
    }

    [Fact]
    public void FromHash_IncrementalHash_MatchesCompute()
    {
        var data = Encoding.ASCII.GetBytes("hello registry");
        using var hash = DigestAlgorithm.Sha512.CreateHash();
        hash.AppendData(data.AsSpan(0, 5));
        hash.AppendData(data.AsSpan(5));
        Assert.Equal(Digest.Compute(DigestAlgorithm.Sha512, data), Digest.FromHash(DigestAlgorithm.Sha512, hash));
    }

    [Fact]
    public void Equals_SameText_IsTrueAndHashesAlike()
    {
        var a = Digest.Parse(EmptySha256);
        var b = Digest.Parse(string.Concat("sha256:", EmptySha256.AsSpan("sha256:".Length)));
        Assert.True(a == b);
        Assert.False(a != b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.True(a.Equals((object)b));
    }

    [Fact]
    public void Equals_DifferentDigests_IsFalse()
    {
        Assert.NotEqual(Digest.Parse(EmptySha256), Digest.Compute(DigestAlgorithm.Sha256, [1]));
    }

    [Fact]
    public void ToString_ValidDigest_ReturnsValue()
    {
        Assert.Equal(EmptySha256, Digest.Parse(EmptySha256).ToString());
    }

    [Theory]
    [InlineData("sha256:zz", true)]
    [InlineData("latest", false)]
    public void LooksLikeDigest_Text_DetectsColon(string text, bool expected)
    {
        Assert.Equal(expected, Digest.LooksLikeDigest(text));
    }
}
