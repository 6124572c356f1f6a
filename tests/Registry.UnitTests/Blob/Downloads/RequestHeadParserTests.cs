using System.Text;
using Registry.Blob.Downloads;

namespace Registry.UnitTests.Blob.Downloads;

public sealed class RequestHeadParserTests
{
    [Fact]
    public void TryParse_GetWithRange_ReadsMethodTargetRangeAndLength()
    {
        var text = "GET /sha256/ab?expires=1&sig=x HTTP/1.1\r\nHost: 127.0.0.1\r\nrange:  bytes=10-19 \r\n\r\nNEXT";

        Assert.Equal(HeadParseStatus.Complete, RequestHeadParser.TryParse(Bytes(text), out var head));
        Assert.Equal(DownloadMethod.Get, head.Method);
        Assert.Equal("/sha256/ab?expires=1&sig=x", head.Target);
        Assert.Equal("bytes=10-19", head.Range);
        Assert.True(head.KeepAlive);
        Assert.False(head.HasBody);
        Assert.Equal(text.Length - "NEXT".Length, head.Length);
    }

    [Fact]
    public void TryParse_ConditionalHeaders_JoinsIfNoneMatchLinesAndReadsIfRange()
    {
        var text = "GET /a/b HTTP/1.1\r\nIf-None-Match: \"x\"\r\nif-range: \"sha256:1\" \r\nIF-NONE-MATCH: W/\"y\", \"z\"\r\n\r\n";

        Assert.Equal(HeadParseStatus.Complete, RequestHeadParser.TryParse(Bytes(text), out var head));
        Assert.Equal("\"x\", W/\"y\", \"z\"", head.IfNoneMatch);
        Assert.Equal("\"sha256:1\"", head.IfRange);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n")]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("")]
    public void TryParse_NoBlankLineYet_IsIncomplete(string text)
    {
        Assert.Equal(HeadParseStatus.Incomplete, RequestHeadParser.TryParse(Bytes(text), out _));
    }

    [Theory]
    [InlineData("HEAD /a/b HTTP/1.1\r\n\r\n", "Head", true)]
    [InlineData("GET /a/b HTTP/1.1\r\nConnection: close\r\n\r\n", "Get", false)]
    [InlineData("GET /a/b HTTP/1.0\r\n\r\n", "Get", false)]
    [InlineData("GET /a/b HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "Get", true)]
    [InlineData("GET /a/b HTTP/1.1\r\nConnection: upgrade, close\r\n\r\n", "Get", false)]
    [InlineData("DELETE /a/b HTTP/1.1\r\n\r\n", "Other", true)]
    public void TryParse_MethodAndConnection_FollowHttpDefaults(string text, string method, bool keepAlive)
    {
        Assert.Equal(HeadParseStatus.Complete, RequestHeadParser.TryParse(Bytes(text), out var head));
        Assert.Equal(method, head.Method.ToString());
        Assert.Equal(keepAlive, head.KeepAlive);
        Assert.Null(head.Range);
    }

    [Theory]
    [InlineData("GET /a/b HTTP/1.1\r\nContent-Length: 5\r\n\r\n", true)]
    [InlineData("GET /a/b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", true)]
    [InlineData("GET /a/b HTTP/1.1\r\nContent-Length: 0\r\n\r\n", false)]
    public void TryParse_Body_IsNoticed(string text, bool hasBody)
    {
        Assert.Equal(HeadParseStatus.Complete, RequestHeadParser.TryParse(Bytes(text), out var head));
        Assert.Equal(hasBody, head.HasBody);
    }

    [Theory]
    [InlineData("GET /a/b HTTP/2.0\r\n\r\n")]
    [InlineData("GET /a/b\r\n\r\n")]
    [InlineData("GET a/b HTTP/1.1\r\n\r\n")]
    [InlineData("GET /a b HTTP/1.1\r\n\r\n")]
    [InlineData("GET /a/b HTTP/1.1\r\nNo colon here\r\n\r\n")]
    [InlineData("GET /a/b HTTP/1.1\r\nBad Name: x\r\n\r\n")]
    [InlineData("GET /a/\u0001 HTTP/1.1\r\n\r\n")]
    public void TryParse_Malformed_IsInvalid(string text)
    {
        Assert.Equal(HeadParseStatus.Invalid, RequestHeadParser.TryParse(Bytes(text), out _));
    }

    private static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);
}
