using Registry.Oci.Http;

namespace Registry.UnitTests.Http;

public sealed class ByteRangeTests
{
    private const long Length = 4096;

    [Theory]
    [InlineData("bytes=500-1499", 500, 1000)]
    [InlineData("bytes=500-", 500, 3596)]
    [InlineData("bytes=-500", 3596, 500)]
    [InlineData("bytes=2000-5000", 2000, 2096)]
    [InlineData("bytes=0-0", 0, 1)]
    [InlineData("bytes=4095-4095", 4095, 1)]
    [InlineData("bytes=0-4095", 0, 4096)]
    [InlineData("bytes=-5000", 0, 4096)]
    [InlineData("BYTES=10-19", 10, 10)]
    [InlineData(" bytes=10-19 ", 10, 10)]
    public void Resolve_SatisfiableSingleRange_ReturnsPartial(string header, long offset, long count)
    {
        Assert.Equal(RangeOutcome.Partial, ByteRange.Resolve(header, Length, out var actualOffset, out var actualCount));
        Assert.Equal(offset, actualOffset);
        Assert.Equal(count, actualCount);
    }

    [Theory]
    [InlineData("bytes=500-0")]
    [InlineData("bytes=5000-10000")]
    [InlineData("bytes=4096-")]
    [InlineData("bytes=4096-4096")]
    [InlineData("bytes=-0")]
    [InlineData("bytes=abc-def")]
    [InlineData("bytes=5")]
    [InlineData("bytes=-")]
    [InlineData("bytes=+1-2")]
    public void Resolve_UnsatisfiableRange_ReturnsUnsatisfiable(string header)
    {
        Assert.Equal(RangeOutcome.Unsatisfiable, ByteRange.Resolve(header, Length, out _, out _));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("bytes=0-1,5-9")]
    [InlineData("items=0-1")]
    public void Resolve_NoHeaderMultiRangeOrOtherUnit_ReturnsFullBlob(string? header)
    {
        Assert.Equal(RangeOutcome.Full, ByteRange.Resolve(header, Length, out var offset, out var count));
        Assert.Equal(0, offset);
        Assert.Equal(Length, count);
    }

    [Theory]
    [InlineData("bytes=0-")]
    [InlineData("bytes=0-9")]
    [InlineData("bytes=-0")]
    public void Resolve_EmptyBlob_ReturnsUnsatisfiable(string header)
    {
        Assert.Equal(RangeOutcome.Unsatisfiable, ByteRange.Resolve(header, 0, out _, out _));
    }

    [Theory]
    [InlineData("bytes=-1")]
    [InlineData("bytes=-10")]
    public void Resolve_SuffixOnEmptyBlob_IsSatisfiedByTheEmptyWhole(string header)
    {
        // RFC 9110 14.1.1: a suffix range with a non-zero length is the one satisfiable form for empty content.
        Assert.Equal(RangeOutcome.Full, ByteRange.Resolve(header, 0, out var offset, out var count));
        Assert.Equal(0, offset);
        Assert.Equal(0, count);
    }
}
