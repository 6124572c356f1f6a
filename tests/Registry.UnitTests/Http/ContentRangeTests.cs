using Registry.Oci.Http;

namespace Registry.UnitTests.Http;

public sealed class ContentRangeTests
{
    [Theory]
    [InlineData("0-1048575", 0, 1048575)]
    [InlineData("1048576-2097151", 1048576, 2097151)]
    [InlineData("0-0", 0, 0)]
    [InlineData("bytes 0-1023", 0, 1023)]
    [InlineData("bytes=0-1023", 0, 1023)]
    [InlineData("bytes 0-1023/4096", 0, 1023)]
    [InlineData("0-1023/*", 0, 1023)]
    [InlineData(" 5-9 ", 5, 9)]
    public void TryParse_WellFormed_ReturnsBounds(string header, long start, long end)
    {
        Assert.True(ContentRange.TryParse(header, out var actualStart, out var actualEnd));
        Assert.Equal(start, actualStart);
        Assert.Equal(end, actualEnd);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    [InlineData("-1023")]
    [InlineData("0-")]
    [InlineData("10-5")]
    [InlineData("a-b")]
    [InlineData("0--1")]
    [InlineData("1023")]
    [InlineData("+0-10")]
    [InlineData("0-+10")]
    [InlineData("bytes */4096")]
    [InlineData("0-9223372036854775807")] // its length would overflow a long
    public void TryParse_Malformed_ReturnsFalse(string? header)
    {
        Assert.False(ContentRange.TryParse(header, out _, out _));
    }
}
