using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Registry.Oci.Digests;

namespace Registry.Benchmarks.Micro;

/// <summary>Digest verification of a 1 MiB blob: one-shot, incremental in 64 KiB chunks, and parse plus compare.</summary>
[MemoryDiagnoser]
public class DigestBenchmarks
{
    private const int ChunkSize = 64 * 1024;
    private byte[] _blob = [];
    private string _expected = string.Empty;
    private IncrementalHash _reused = null!;

    [GlobalSetup]
    public void Setup()
    {
        _blob = new byte[1024 * 1024];
        new Random(42).NextBytes(_blob);
        _expected = Digest.Compute(DigestAlgorithm.Sha256, _blob).Value;
        _reused = DigestAlgorithm.Sha256.CreateHash();
    }

    [GlobalCleanup]
    public void Cleanup() => _reused.Dispose();

    [Benchmark(Baseline = true, Description = "Compute sha256 1 MiB")]
    public Digest Compute() => Digest.Compute(DigestAlgorithm.Sha256, _blob);

    [Benchmark(Description = "Incremental sha256 1 MiB, 64 KiB chunks, new hash")]
    public Digest IncrementalNewHash()
    {
        using var hash = DigestAlgorithm.Sha256.CreateHash();
        for (var offset = 0; offset < _blob.Length; offset += ChunkSize)
        {
            hash.AppendData(_blob.AsSpan(offset, ChunkSize));
        }

        return Digest.FromHash(DigestAlgorithm.Sha256, hash);
    }

    [Benchmark(Description = "Incremental sha256 1 MiB, 64 KiB chunks, reused hash")]
    public Digest IncrementalReusedHash()
    {
        for (var offset = 0; offset < _blob.Length; offset += ChunkSize)
        {
            _reused.AppendData(_blob.AsSpan(offset, ChunkSize));
        }

        return Digest.FromHash(DigestAlgorithm.Sha256, _reused);
    }

    [Benchmark(Description = "Verify 1 MiB against a client digest")]
    public bool Verify()
    {
        if (!Digest.TryParse(_expected, out var claimed))
        {
            return false;
        }

        return Digest.Compute(claimed.Algorithm, _blob) == claimed;
    }
}
