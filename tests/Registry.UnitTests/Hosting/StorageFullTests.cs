using Grpc.Core;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Registry.Hosting;
using Registry.Hosting.Grpc;
using Registry.Oci.Errors;
using Registry.UnitTests.Support;

namespace Registry.UnitTests.Hosting;

public sealed class StorageFullTests
{
    [Theory]
    [InlineData(28)] // ENOSPC
    [InlineData(122)] // EDQUOT
    public void AWriteRefusedForSpace_IsRecognised(int errno)
    {
        Assert.True(StorageFull.Is(new IOException("refused", errno)));
        Assert.True(StorageFull.Is(new InvalidOperationException("wrapped", new IOException("refused", errno))));
    }

    [Fact]
    public void AFullDatabase_IsRecognised_OtherSqliteErrorsAreNot()
    {
        Assert.True(StorageFull.Is(new SqliteException("database or disk is full", 13)));
        Assert.True(StorageFull.Is(new SqliteException("disk I/O error", 10, 10 | (19 << 8)))); // SQLITE_IOERR_SHMSIZE
        Assert.False(StorageFull.Is(new SqliteException("disk I/O error", 10, 10 | (3 << 8)))); // SQLITE_IOERR_WRITE
        Assert.False(StorageFull.Is(new SqliteException("database is locked", 5)));
    }

    [Fact]
    public void OtherFailures_AreNotAFullDisk()
    {
        Assert.False(StorageFull.Is(new IOException("i/o error", 5)));
        Assert.False(StorageFull.Is(new IOException("invalid argument", 22)));
        Assert.False(StorageFull.Is(new FileNotFoundException()));
        Assert.False(StorageFull.Is(new InvalidOperationException("no")));
        Assert.False(StorageFull.Is(null));
    }

    [Fact]
    public void TheAnswer_Is507_WithAnOciCode_AndSaysWhatFilledUp()
    {
        var disk = StorageFull.Answer(new IOException("No space left on device : '/data/x'", 28));
        Assert.Equal(507, disk.HttpStatus);
        Assert.Equal(OciErrorCode.Unknown, disk.Code);
        Assert.Equal("the registry storage is full", disk.Message);
        Assert.Equal("no space left on the storage device", disk.Detail);

        Assert.Equal("disk quota exceeded", StorageFull.Answer(new IOException("quota", 122)).Detail);
        Assert.Equal("the metadata database cannot grow", StorageFull.Answer(new SqliteException("full", 13)).Detail);
    }

    [Fact]
    public async Task AServiceThatFindsTheDiskFull_Answers507AcrossGrpc()
    {
        var interceptor = new OciExceptionInterceptor(NullLogger<OciExceptionInterceptor>.Instance);

        var thrown = await Assert.ThrowsAsync<RpcException>(() => interceptor.UnaryServerHandler<string, string>(
            "request",
            new TestCallContext("/registry.v1.Blobs/AppendStaged"),
            (_, _) => throw new IOException("No space left on device", 28)));

        var received = OciStatus.ToOciException(thrown);
        Assert.Equal(507, received.HttpStatus);
        Assert.Equal(OciErrorCode.Unknown, received.Code);
        Assert.Equal("the registry storage is full", received.Message);
    }

    [Fact]
    public async Task AnyOtherFailure_StaysAnInternalError()
    {
        var interceptor = new OciExceptionInterceptor(NullLogger<OciExceptionInterceptor>.Instance);

        var thrown = await Assert.ThrowsAsync<RpcException>(() => interceptor.UnaryServerHandler<string, string>(
            "request",
            new TestCallContext("/registry.v1.Blobs/AppendStaged"),
            (_, _) => throw new IOException("i/o error", 5)));

        Assert.Equal(StatusCode.Internal, thrown.StatusCode);
        Assert.Equal(500, OciStatus.ToOciException(thrown).HttpStatus);
    }
}
