using Registry.Hosting.Grpc;
using Registry.Oci.Errors;

namespace Registry.UnitTests.Hosting;

public sealed class OciStatusTests
{
    [Fact]
    public void AnOciError_CrossesGrpc_WithItsCodeDetailRangeAndRetryAfter()
    {
        var sent = new OciException(OciErrorCode.Unavailable, "storage failing", "driver filesystem")
        {
            UploadSize = 42,
            RetryAfter = TimeSpan.FromMilliseconds(2300),
        };

        var received = OciStatus.ToOciException(OciStatus.ToRpcException(sent));

        Assert.Equal(OciErrorCode.Unavailable, received.Code);
        Assert.Equal(503, received.HttpStatus);
        Assert.Equal("driver filesystem", received.Detail);
        Assert.Equal(42, received.UploadSize);
        Assert.Equal(TimeSpan.FromSeconds(3), received.RetryAfter);
    }

    [Fact]
    public void WithoutARetryAfter_NoneIsInvented()
    {
        var received = OciStatus.ToOciException(OciStatus.ToRpcException(new OciException(OciErrorCode.BlobUnknown)));
        Assert.Null(received.RetryAfter);
    }

    [Fact]
    public void GrpcsOwnResourceLimit_IsAServerError_NotARetryLater()
    {
        var limit = new Grpc.Core.RpcException(new Grpc.Core.Status(Grpc.Core.StatusCode.ResourceExhausted, "Sending message exceeds the maximum configured message size."));

        var received = OciStatus.ToOciException(limit);

        Assert.Equal(OciErrorCode.Unknown, received.Code);
        Assert.Equal(500, received.HttpStatus);
        Assert.Null(received.RetryAfter);
    }

    [Fact]
    public void AServiceThatShedsLoad_StillCrossesAs429()
    {
        var shed = new OciException(OciErrorCode.TooManyRequests, "busy") { RetryAfter = TimeSpan.FromSeconds(2) };

        var received = OciStatus.ToOciException(OciStatus.ToRpcException(shed));

        Assert.Equal(OciErrorCode.TooManyRequests, received.Code);
        Assert.Equal(429, received.HttpStatus);
        Assert.Equal(TimeSpan.FromSeconds(2), received.RetryAfter);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(999, 1)]
    [InlineData(1001, 2)]
    [InlineData(10000, 10)]
    public void RetrySeconds_RoundsUp_AtLeastOne(int milliseconds, int seconds)
    {
        Assert.Equal(seconds, OciStatus.RetrySeconds(TimeSpan.FromMilliseconds(milliseconds)));
    }
}
