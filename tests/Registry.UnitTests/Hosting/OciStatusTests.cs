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
