using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace Registry.Oci.Digests;

/// <summary>
/// A verified content digest, "&lt;algorithm&gt;:&lt;hex&gt;". Only sha256 and sha512 with lowercase hex
/// of the exact length are accepted: an uppercase or short digest would let two spellings name one
/// blob on a case-insensitive store (opencontainers/image-spec#667).
/// </summary>
public readonly struct Digest : IEquatable<Digest>
{
    private readonly string? _value;

    private Digest(string value, DigestAlgorithm algorithm)
    {
        _value = value;
        Algorithm = algorithm;
    }

    /// <summary>The digest's algorithm.</summary>
    public DigestAlgorithm Algorithm { get; }

    /// <summary>The full digest string, "sha256:…".</summary>
    public string Value => _value ?? string.Empty;

    /// <summary>The hex part after the colon.</summary>
    public ReadOnlySpan<char> Hex => Value.AsSpan(Value.IndexOf(':') + 1);

    /// <summary>True for a default (empty) value.</summary>
    public bool IsEmpty => _value is null;

    /// <summary>Parses and validates a digest string.</summary>
    public static bool TryParse([NotNullWhen(true)] string? text, out Digest digest)
    {
        digest = default;
        if (text is null)
        {
            return false;
        }

        var colon = text.IndexOf(':');
        if (colon <= 0 || !DigestAlgorithms.TryParse(text.AsSpan(0, colon), out var algorithm))
        {
            return false;
        }

        var hex = text.AsSpan(colon + 1);
        if (hex.Length != algorithm.HexLength() || !IsLowerHex(hex))
        {
            return false;
        }

        digest = new Digest(text, algorithm);
        return true;
    }

    /// <summary>Parses a digest string or throws a <see cref="FormatException"/>.</summary>
    public static Digest Parse(string text) =>
        TryParse(text, out var digest) ? digest : throw new FormatException($"'{text}' is not a valid digest.");

    /// <summary>True when the text looks like an attempt at a digest (has a colon), valid or not.</summary>
    public static bool LooksLikeDigest(ReadOnlySpan<char> text) => text.Contains(':');

    /// <summary>Computes the digest of a buffer.</summary>
    public static Digest Compute(DigestAlgorithm algorithm, ReadOnlySpan<byte> content)
    {
        Span<byte> hash = stackalloc byte[64];
        var written = algorithm == DigestAlgorithm.Sha512
            ? SHA512.HashData(content, hash)
            : SHA256.HashData(content, hash);
        return FromHash(algorithm, hash[..written]);
    }

    /// <summary>Builds a digest from a finished hash.</summary>
    public static Digest FromHash(DigestAlgorithm algorithm, ReadOnlySpan<byte> hash)
    {
        var name = algorithm.Name();
        Span<char> text = stackalloc char[name.Length + 1 + (hash.Length * 2)];
        name.AsSpan().CopyTo(text);
        text[name.Length] = ':';
        Convert.TryToHexStringLower(hash, text[(name.Length + 1)..], out _);
        var value = new string(text);
        return new Digest(value, algorithm);
    }

    /// <summary>Finishes an incremental hash into a digest.</summary>
    public static Digest FromHash(DigestAlgorithm algorithm, IncrementalHash hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        Span<byte> buffer = stackalloc byte[64];
        var written = hash.GetHashAndReset(buffer);
        return FromHash(algorithm, buffer[..written]);
    }

    /// <inheritdoc />
    public bool Equals(Digest other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is Digest other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    /// <inheritdoc />
    public override string ToString() => Value;

    public static bool operator ==(Digest left, Digest right) => left.Equals(right);

    public static bool operator !=(Digest left, Digest right) => !left.Equals(right);

    private static bool IsLowerHex(ReadOnlySpan<char> hex)
    {
        foreach (var c in hex)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }
}
