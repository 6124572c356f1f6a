using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// Fresh blobs that cost the load generator almost nothing: every blob of a run shares one random prefix and
/// ends in 16 bytes of its own (a per-run nonce and a sequence number), so its SHA-256 is the prefix's saved
/// hash state plus one short update, and its body is the prefix copied once per buffer with the tail rewritten.
/// </summary>
internal sealed class UniqueBlobs : IDisposable
{
    public const int TailLength = 16;

    private readonly byte[] _prefix;
    private readonly IncrementalHash _prefixHash;
    private readonly Lock _lock = new();
    private readonly long _nonce;
    private long _sequence;

    public UniqueBlobs(int size)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(size, TailLength);
        Size = size;

        // A nonce per run, so no blob is ever one the registry has seen before.
        _nonce = BitConverter.ToInt64(RandomNumberGenerator.GetBytes(sizeof(long)));
        _prefix = new byte[size - TailLength];
        new Random(unchecked((int)_nonce)).NextBytes(_prefix);
        _prefixHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        _prefixHash.AppendData(_prefix);
    }

    public int Size { get; }

    /// <summary>A sequence number no other blob of this instance has.</summary>
    public long Next() => Interlocked.Increment(ref _sequence);

    /// <summary>A body buffer holding the shared prefix; <see cref="Fill"/> writes a blob's own tail into it.</summary>
    /// <remarks>
    /// On the pinned object heap: an open loop may hold thousands of these, and the GC would otherwise copy
    /// them through the generations while the dispatcher waits.
    /// </remarks>
    public byte[] NewBuffer()
    {
        var buffer = GC.AllocateUninitializedArray<byte>(Size, pinned: true);
        _prefix.CopyTo(buffer, 0);
        return buffer;
    }

    /// <summary>Makes <paramref name="buffer"/> the blob of <paramref name="sequence"/>.</summary>
    public void Fill(byte[] buffer, long sequence)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        WriteTail(buffer.AsSpan(_prefix.Length, TailLength), sequence);
    }

    /// <summary>The digest ("sha256:...") of the blob of <paramref name="sequence"/>.</summary>
    public string DigestOf(long sequence)
    {
        Span<byte> tail = stackalloc byte[TailLength];
        WriteTail(tail, sequence);
        IncrementalHash hash;
        lock (_lock)
        {
            hash = _prefixHash.Clone();
        }

        using (hash)
        {
            hash.AppendData(tail);
            Span<byte> digest = stackalloc byte[32];
            hash.GetHashAndReset(digest);
            return "sha256:" + Convert.ToHexStringLower(digest);
        }
    }

    public void Dispose() => _prefixHash.Dispose();

    private void WriteTail(Span<byte> tail, long sequence)
    {
        BinaryPrimitives.WriteInt64LittleEndian(tail, _nonce);
        BinaryPrimitives.WriteInt64LittleEndian(tail[8..], sequence);
    }
}
