using BenchmarkDotNet.Attributes;
using Registry.Oci.Digests;
using Registry.Oci.Names;

namespace Registry.Benchmarks.Micro;

/// <summary>The checks every request path goes through: repository name, tag and digest grammar.</summary>
[MemoryDiagnoser]
public class ReferenceBenchmarks
{
    private const string ShortName = "library/ubuntu";
    private const string LongName = "team-a/platform__tools/build.cache/images/runtime-base";
    private const string Tag = "v1.24.3-alpine3.20";
    private const string ValidDigest = "sha256:0b6a1a5f8bd22d1e0c8e1c6f16e7a2d3c6b9f4b1f8e7d2c3a4b5c6d7e8f90123";
    private const string UppercaseDigest = "sha256:0B6A1A5F8BD22D1E0C8E1C6F16E7A2D3C6B9F4B1F8E7D2C3A4B5C6D7E8F90123";

    [Benchmark(Description = "RepositoryName.IsValid short")]
    public bool NameShort() => RepositoryName.IsValid(ShortName);

    [Benchmark(Description = "RepositoryName.IsValid 5 components")]
    public bool NameLong() => RepositoryName.IsValid(LongName);

    [Benchmark(Description = "RepositoryName.IsValidTag")]
    public bool ValidTag() => RepositoryName.IsValidTag(Tag);

    [Benchmark(Description = "Digest.TryParse valid")]
    public bool DigestValid() => Digest.TryParse(ValidDigest, out _);

    [Benchmark(Description = "Digest.TryParse uppercase (rejected)")]
    public bool DigestRejected() => Digest.TryParse(UppercaseDigest, out _);
}
