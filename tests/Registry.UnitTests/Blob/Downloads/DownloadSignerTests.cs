using System.Security.Cryptography;
using System.Text;
using Registry.Blob.Downloads;

namespace Registry.UnitTests.Blob.Downloads;

public sealed class DownloadSignerTests
{
    private const string Path = "sha256/0cd2dc42a5e5e82c8cdeb1ed3707419e1899135992550716c67e711cb265afa0";
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();

    [Fact]
    public void Verify_FreshSignature_IsValid()
    {
        var clock = new ManualClock();
        var signer = new DownloadSigner(Key, clock);
        var expires = signer.ExpiryFor(TimeSpan.FromMinutes(5));

        Assert.Equal(SignatureCheck.Valid, signer.Verify(Path, Text(expires), signer.Sign(Path, expires)));
    }

    [Fact]
    public void Verify_AfterExpiry_IsExpired()
    {
        var clock = new ManualClock();
        var signer = new DownloadSigner(Key, clock);
        var expires = signer.ExpiryFor(TimeSpan.FromMinutes(5));
        var signature = signer.Sign(Path, expires);

        clock.Advance(TimeSpan.FromMinutes(5));

        Assert.Equal(SignatureCheck.Expired, signer.Verify(Path, Text(expires), signature));
    }

    [Fact]
    public void Verify_OtherPathOrExpiry_IsInvalid()
    {
        var signer = new DownloadSigner(Key, new ManualClock());
        var expires = signer.ExpiryFor(TimeSpan.FromMinutes(5));
        var signature = signer.Sign(Path, expires);
        var otherPath = Path[..^1] + "1";

        Assert.Equal(SignatureCheck.Invalid, signer.Verify(otherPath, Text(expires), signature));
        Assert.Equal(SignatureCheck.Invalid, signer.Verify(Path, Text(expires + 3600), signature));
    }

    [Theory]
    [InlineData("")]
    [InlineData("not-base64url!")]
    [InlineData("AAAA")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    public void Verify_MalformedSignature_IsInvalid(string signature)
    {
        var signer = new DownloadSigner(Key, new ManualClock());

        Assert.Equal(SignatureCheck.Invalid, signer.Verify(Path, Text(signer.ExpiryFor(TimeSpan.FromMinutes(1))), signature));
    }

    [Theory]
    [InlineData("")]
    [InlineData("-1")]
    [InlineData("12a")]
    [InlineData("99999999999999999999999")]
    public void Verify_MalformedExpiry_IsInvalid(string expires)
    {
        var signer = new DownloadSigner(Key, new ManualClock());

        Assert.Equal(SignatureCheck.Invalid, signer.Verify(Path, expires, signer.Sign(Path, 4_000_000_000)));
    }

    [Fact]
    public void Verify_SignedWithAnotherKey_IsInvalid()
    {
        var clock = new ManualClock();
        var signer = new DownloadSigner(Key, clock);
        var other = new DownloadSigner(RandomNumberGenerator.GetBytes(32), clock);
        var expires = signer.ExpiryFor(TimeSpan.FromMinutes(5));

        Assert.Equal(SignatureCheck.Invalid, signer.Verify(Path, Text(expires), other.Sign(Path, expires)));
    }

    [Fact]
    public void Sign_IsHmacSha256OfPathNewlineExpiry_Base64Url()
    {
        // The documented format: operators of several blob service instances can rely on it.
        var signer = new DownloadSigner(Key, new ManualClock());
        var expected = Convert.ToBase64String(HMACSHA256.HashData(Key, Encoding.UTF8.GetBytes(Path + "\n1796408680")))
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');

        Assert.Equal(expected, signer.Sign(Path, 1796408680));
    }

    [Fact]
    public void Constructor_ShortKey_Throws()
    {
        Assert.Throws<ArgumentException>(() => new DownloadSigner(new byte[16], new ManualClock()));
    }

    [Theory]
    [InlineData("not base64")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAA==")]
    public void DecodeKey_BadOrShort_ThrowsNamingTheSetting(string configured)
    {
        var error = Assert.Throws<InvalidOperationException>(() => DownloadSigner.DecodeKey(configured));
        Assert.Contains("SigningKey", error.Message, StringComparison.Ordinal);
    }

    private static string Text(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private sealed class ManualClock : TimeProvider
    {
        private DateTimeOffset _now = new(2026, 12, 4, 18, 0, 0, TimeSpan.Zero);

        public override DateTimeOffset GetUtcNow() => _now;

        public void Advance(TimeSpan by) => _now += by;
    }
}
