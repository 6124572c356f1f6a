using System.Security.Cryptography;

namespace Registry.Oci.Digests;

/// <summary>The digest algorithms the registry verifies.</summary>
public enum DigestAlgorithm
{
    /// <summary>SHA-256, 64 lowercase hex characters; the default.</summary>
    Sha256,

    /// <summary>SHA-512, 128 lowercase hex characters.</summary>
    Sha512,
}

/// <summary>Names, lengths and hash factories of <see cref="DigestAlgorithm"/> values.</summary>
public static class DigestAlgorithms
{
    /// <summary>The algorithm's name as it appears in a digest string.</summary>
    public static string Name(this DigestAlgorithm algorithm) => algorithm switch
    {
        DigestAlgorithm.Sha256 => "sha256",
        DigestAlgorithm.Sha512 => "sha512",
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    /// <summary>The number of hex characters of an encoded hash.</summary>
    public static int HexLength(this DigestAlgorithm algorithm) => algorithm == DigestAlgorithm.Sha512 ? 128 : 64;

    /// <summary>The matching incremental hash.</summary>
    public static IncrementalHash CreateHash(this DigestAlgorithm algorithm) => algorithm switch
    {
        DigestAlgorithm.Sha256 => IncrementalHash.CreateHash(HashAlgorithmName.SHA256),
        DigestAlgorithm.Sha512 => IncrementalHash.CreateHash(HashAlgorithmName.SHA512),
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    /// <summary>Parses an algorithm name; case-sensitive, as digests are.</summary>
    public static bool TryParse(ReadOnlySpan<char> name, out DigestAlgorithm algorithm)
    {
        if (name.SequenceEqual("sha256"))
        {
            algorithm = DigestAlgorithm.Sha256;
            return true;
        }

        if (name.SequenceEqual("sha512"))
        {
            algorithm = DigestAlgorithm.Sha512;
            return true;
        }

        algorithm = default;
        return false;
    }
}
