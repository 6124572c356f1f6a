using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Registry.Blob.Downloads;

/// <summary>The result of checking a signed download URL.</summary>
internal enum SignatureCheck
{
    /// <summary>The signature matches and the URL has not expired.</summary>
    Valid,

    /// <summary>The signature matches but the expiry has passed.</summary>
    Expired,

    /// <summary>The signature is missing, malformed or does not match.</summary>
    Invalid,
}

/// <summary>
/// Signs and checks direct download URLs: HMAC-SHA256 over "&lt;algorithm&gt;/&lt;hex&gt;\n&lt;expires&gt;" (the
/// method is not signed, so one URL serves GET and HEAD), base64url without padding in the query.
/// </summary>
internal sealed class DownloadSigner
{
    /// <summary>The smallest key accepted, in bytes (the hash's own size).</summary>
    public const int MinimumKeyBytes = 32;

    private const int SignatureBytes = 32;
    private const int MaxMessageBytes = 256;

    private readonly byte[] _key;
    private readonly TimeProvider _time;

    public DownloadSigner(byte[] key, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(time);
        if (key.Length < MinimumKeyBytes)
        {
            throw new ArgumentException($"The signing key must have at least {MinimumKeyBytes} bytes.", nameof(key));
        }

        _key = key;
        _time = time;
    }

    /// <summary>Decodes a base64 key from configuration, or throws with a message naming the setting.</summary>
    public static byte[] DecodeKey(string base64)
    {
        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"{DirectDownloadOptions.SectionName}:SigningKey must be base64.");
        }

        return key.Length >= MinimumKeyBytes
            ? key
            : throw new InvalidOperationException(
                $"{DirectDownloadOptions.SectionName}:SigningKey must decode to at least {MinimumKeyBytes} bytes.");
    }

    /// <summary>The Unix time (seconds) a URL signed now for <paramref name="lifetime"/> expires at.</summary>
    public long ExpiryFor(TimeSpan lifetime) => _time.GetUtcNow().ToUnixTimeSeconds() + (long)Math.Ceiling(lifetime.TotalSeconds);

    /// <summary>The signature of a blob path ("sha256/&lt;hex&gt;") and expiry, base64url.</summary>
    public string Sign(string path, long expires)
    {
        ArgumentNullException.ThrowIfNull(path);
        Span<byte> mac = stackalloc byte[SignatureBytes];
        if (!TryMac(path, expires, mac))
        {
            throw new ArgumentException("The path is too long to sign.", nameof(path));
        }

        return Base64Url.EncodeToString(mac);
    }

    /// <summary>Checks a signature in constant time, then the expiry.</summary>
    public SignatureCheck Verify(ReadOnlySpan<char> path, ReadOnlySpan<char> expiresText, ReadOnlySpan<char> signature)
    {
        if (!long.TryParse(expiresText, NumberStyles.None, CultureInfo.InvariantCulture, out var expires))
        {
            return SignatureCheck.Invalid;
        }

        // IsValid first: the decoder throws on characters outside the alphabet, and a bad query is not an exception.
        Span<byte> given = stackalloc byte[SignatureBytes];
        if (!Base64Url.IsValid(signature, out var decodedLength)
            || decodedLength != SignatureBytes
            || !Base64Url.TryDecodeFromChars(signature, given, out var written)
            || written != SignatureBytes)
        {
            return SignatureCheck.Invalid;
        }

        Span<byte> expected = stackalloc byte[SignatureBytes];
        if (!TryMac(path, expires, expected)
            || !CryptographicOperations.FixedTimeEquals(expected, given))
        {
            return SignatureCheck.Invalid;
        }

        return _time.GetUtcNow().ToUnixTimeSeconds() < expires ? SignatureCheck.Valid : SignatureCheck.Expired;
    }

    private bool TryMac(ReadOnlySpan<char> path, long expires, Span<byte> mac)
    {
        Span<byte> message = stackalloc byte[MaxMessageBytes];
        if (Encoding.UTF8.GetMaxByteCount(path.Length) + 21 > MaxMessageBytes)
        {
            return false;
        }

        var length = Encoding.UTF8.GetBytes(path, message);
        message[length++] = (byte)'\n';
        if (!expires.TryFormat(message[length..], out var digits, default, CultureInfo.InvariantCulture))
        {
            return false;
        }

        HMACSHA256.HashData(_key, message[..(length + digits)], mac);
        return true;
    }
}
