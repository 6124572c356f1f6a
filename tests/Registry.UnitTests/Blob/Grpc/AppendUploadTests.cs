using Grpc.Core;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Registry.Blob;
using Registry.Blob.Grpc;
using Registry.Blob.Metadata;
using Registry.Blob.Uploads;
using Registry.Oci.Errors;
using Registry.Protos;
using Registry.Storage.Filesystem;
using Registry.UnitTests.Support;

namespace Registry.UnitTests.Blob.Grpc;

/// <summary>What the blob service answers to upload streams that do not start with their header.</summary>
public sealed class AppendUploadTests : IDisposable
{
    private readonly TempDirectory _root = new();
    private readonly BlobGrpcService _service;

    public AppendUploadTests()
    {
        var storage = new FilesystemDriver(new FilesystemDriverOptions { RootDirectory = _root.Path });
        var metadata = new BlobMetadataStore(Path.Combine(_root.Path, "blobs.db"), new ManualTimeProvider());
        _service = new BlobGrpcService(
            storage, metadata, new UploadManager(storage, metadata, Options.Create(new BlobServiceOptions()), TimeProvider.System, NullLogger<UploadManager>.Instance), Options.Create(new BlobServiceOptions()));
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _root.Dispose();
    }

    [Fact]
    public async Task AStreamWithNoMessageAtAll_IsUnavailable_SoTheClientSendsItAgain()
    {
        var refused = await Assert.ThrowsAsync<OciException>(() => _service.AppendUpload(new Messages(), new TestCallContext("/registry.v1.Blobs/AppendUpload")));
        Assert.Equal(OciErrorCode.Unavailable, refused.Code);
    }

    [Fact]
    public async Task AStreamWhoseFirstMessageIsData_IsInvalid()
    {
        var first = new UploadChunk { Data = Google.Protobuf.ByteString.CopyFrom(1, 2, 3) };
        var refused = await Assert.ThrowsAsync<OciException>(() => _service.AppendUpload(new Messages(first), new TestCallContext("/registry.v1.Blobs/AppendUpload")));
        Assert.Equal(OciErrorCode.BlobUploadInvalid, refused.Code);
    }

    private sealed class Messages(params UploadChunk[] chunks) : IAsyncStreamReader<UploadChunk>
    {
        private int _next = -1;

        public UploadChunk Current => chunks[_next];

        public Task<bool> MoveNext(CancellationToken cancellationToken) => Task.FromResult(++_next < chunks.Length);
    }
}
