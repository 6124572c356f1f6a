using System.Net.Sockets;
using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Registry.Hosting;
using Registry.Hosting.Grpc;
using Registry.Oci.Errors;
using Registry.UnitTests.Support;

namespace Registry.UnitTests.Hosting;

public sealed class OutOfDescriptorsTests
{
    [Theory]
    [InlineData(24)] // EMFILE
    [InlineData(23)] // ENFILE
    public void AFileRefusedForWantOfADescriptor_IsRecognised(int errno)
    {
        Assert.True(OutOfDescriptors.Is(new IOException("Too many open files", errno)));
        Assert.True(OutOfDescriptors.Is(new InvalidOperationException("wrapped", new IOException("Too many open files", errno))));
    }

    [Fact]
    public void ASocketRefusedForWantOfADescriptor_IsRecognised_OtherFailuresAreNot()
    {
        Assert.True(OutOfDescriptors.Is(new HttpRequestException("connect", new SocketException((int)SocketError.TooManyOpenSockets))));
        Assert.False(OutOfDescriptors.Is(new SocketException((int)SocketError.ConnectionRefused)));
        Assert.False(OutOfDescriptors.Is(new IOException("No space left on device", 28)));
        Assert.False(OutOfDescriptors.Is(new IOException("i/o error", 5)));
        Assert.False(OutOfDescriptors.Is(null));
    }

    [Fact]
    public async Task AServiceOutOfDescriptors_AnswersUnavailableWithRetryAfter_AcrossGrpc()
    {
        var interceptor = new OciExceptionInterceptor(NullLogger<OciExceptionInterceptor>.Instance);

        var thrown = await Assert.ThrowsAsync<RpcException>(() => interceptor.UnaryServerHandler<string, string>(
            "request",
            new TestCallContext("/registry.v1.Blobs/StartUpload"),
            (_, _) => throw new IOException("Too many open files", 24)));

        var received = OciStatus.ToOciException(thrown);
        Assert.Equal(503, received.HttpStatus);
        Assert.Equal(OciErrorCode.Unavailable, received.Code);
        Assert.Equal(TimeSpan.FromSeconds(1), received.RetryAfter);
    }

    [Fact]
    public void ACallThatCouldNotOpenItsConnection_ForWantOfADescriptor_Answers503()
    {
        var failed = new RpcException(new Status(StatusCode.Unavailable, "Error starting gRPC call. HttpRequestException: Too many open files (localhost:80)",
            new HttpRequestException("Too many open files", new SocketException((int)SocketError.TooManyOpenSockets))));

        var received = OciStatus.ToOciException(failed);

        Assert.Equal(503, received.HttpStatus);
        Assert.Equal(OciErrorCode.Unavailable, received.Code);
        Assert.Equal(TimeSpan.FromSeconds(1), received.RetryAfter);
    }

    [Fact]
    public void AGrpcFailureWithoutAnOciCode_TellsTheClientItsStatus_NotItsText()
    {
        var failed = new RpcException(new Status(StatusCode.Unavailable, "Error starting gRPC call. HttpRequestException: Connection refused (localhost:80)",
            new HttpRequestException("Connection refused", new SocketException((int)SocketError.ConnectionRefused))));

        var received = OciStatus.ToOciException(failed);

        Assert.Equal(OciErrorCode.Unavailable, received.Code);
        Assert.Equal("gRPC Unavailable", received.Detail);
    }
}
