using System.Security.Cryptography;

namespace Registry.IntegrationTests.Support;

/// <summary>Digest strings computed the way clients compute them.</summary>
public static class Digests
{
    public const string EmptySha256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    public static string Sha256(ReadOnlySpan<byte> data) => "sha256:" + Convert.ToHexStringLower(SHA256.HashData(data));

    public static string Sha512(ReadOnlySpan<byte> data) => "sha512:" + Convert.ToHexStringLower(SHA512.HashData(data));

    /// <summary>The hex part of a digest.</summary>
    public static string Hex(string digest) => digest[(digest.IndexOf(':', StringComparison.Ordinal) + 1)..];
}
