using System.Buffers;
using System.Runtime.CompilerServices;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Registry.Blob.Metadata;
using Registry.Blob.Uploads;
using Registry.Hosting.Grpc;
using Registry.Oci.Digests;
using Registry.Oci.Errors;
using Registry.Oci.Names;
using Registry.Protos;
using Registry.Storage;

namespace Registry.Blob.Grpc;

/// <summary>The gRPC face of the blob service (contract in protos/blob.proto).</summary>
internal sealed class BlobGrpcService : Blobs.BlobsBase
{
    // A refused upload waits for the rest of its body up to this size (bytes) and this long.
    private const long DrainLimit = 16L * 1024 * 1024;
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);

    private readonly IStorageDriver _storage;
    private readonly BlobMetadataStore _metadata;
    private readonly UploadManager _uploads;
    private readonly BlobServiceOptions _options;
    private readonly IBlobRedirector? _redirector;

    public BlobGrpcService(
        IStorageDriver storage,
        BlobMetadataStore metadata,
        UploadManager uploads,
        IOptions<BlobServiceOptions> options,
        IBlobRedirector? redirector = null)
    {
        _storage = storage;
        _metadata = metadata;
        _uploads = uploads;
        _options = options.Value;
        _redirector = redirector;
    }

    /// <inheritdoc />
    public override async Task<StatBlobReply> StatBlob(StatBlobRequest request, ServerCallContext context)
    {
        var digest = ValidDigest(request.Digest);
        var size = LinkedSize(ValidName(request.Repository), digest);
        var reply = new StatBlobReply { Size = size };
        if (request.WantLocalPath && _options.GrantLocalPaths)
        {
            reply.LocalPath = _storage.GetLocalPath(BlobPaths.Blob(digest)) ?? string.Empty;
        }

        if (request.WantRedirect && _redirector is not null && size >= request.RedirectMinSize)
        {
            reply.RedirectUrl = await _redirector.GetRedirectUrlAsync(digest, size, context.CancellationToken) ?? string.Empty;
        }

        return reply;
    }

    /// <inheritdoc />
    public override async Task ReadBlob(ReadBlobRequest request, IServerStreamWriter<BlobChunk> responseStream, ServerCallContext context)
    {
        var digest = ValidDigest(request.Digest);
        var size = LinkedSize(ValidName(request.Repository), digest);
        if (request.Offset < 0 || request.Offset > size)
        {
            throw new OciException(OciErrorCode.RangeInvalid, detail: $"offset {request.Offset} of {size}");
        }

        var remaining = request.Length < 0 ? size - request.Offset : Math.Min(request.Length, size - request.Offset);
        var cancellationToken = context.CancellationToken;
        var buffer = ArrayPool<byte>.Shared.Rent(_options.ReadChunkSize);
        try
        {
            await using var stream = await _storage.OpenReadAsync(BlobPaths.Blob(digest), request.Offset, cancellationToken);
            while (remaining > 0)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken);
                if (read == 0)
                {
                    throw new InvalidOperationException($"blob {digest} is shorter than recorded");
                }

                // The message is serialised before WriteAsync completes, so the pooled buffer can be reused after it.
                await responseStream.WriteAsync(new BlobChunk { Data = UnsafeByteOperations.UnsafeWrap(buffer.AsMemory(0, read)) }, cancellationToken);
                remaining -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc />
    public override async Task<DeleteBlobReply> DeleteBlob(DeleteBlobRequest request, ServerCallContext context)
    {
        var digest = ValidDigest(request.Digest);
        if (!await _metadata.UnlinkAsync(ValidName(request.Repository), digest, context.CancellationToken))
        {
            throw new OciException(OciErrorCode.BlobUnknown, detail: digest);
        }

        return new DeleteBlobReply();
    }

    /// <inheritdoc />
    public override Task<FindMissingBlobsReply> FindMissingBlobs(FindMissingBlobsRequest request, ServerCallContext context)
    {
        var reply = new FindMissingBlobsReply();
        var sizes = _metadata.Sizes(ValidName(request.Repository), request.Digests);
        for (var i = 0; i < sizes.Count; i++)
        {
            if (sizes[i] < 0)
            {
                reply.Missing.Add(request.Digests[i]);
            }
        }

        reply.Sizes.AddRange(sizes);
        return Task.FromResult(reply);
    }

    /// <inheritdoc />
    public override async Task<MountBlobReply> MountBlob(MountBlobRequest request, ServerCallContext context)
    {
        var digest = ValidDigest(request.Digest);
        var repository = ValidName(request.Repository);
        if (!RepositoryName.IsValid(request.FromRepository))
        {
            return new MountBlobReply { Mounted = false };
        }

        var size = await _metadata.MountAsync(repository, digest, request.FromRepository, context.CancellationToken);
        return new MountBlobReply { Mounted = size.HasValue, Size = size ?? 0 };
    }

    /// <inheritdoc />
    public override async Task<UploadStatus> StartUpload(StartUploadRequest request, ServerCallContext context)
    {
        var algorithm = DigestAlgorithm.Sha256;
        if (request.DigestAlgorithm.Length > 0 && !DigestAlgorithms.TryParse(request.DigestAlgorithm, out algorithm))
        {
            throw new OciException(OciErrorCode.DigestInvalid, "unsupported digest algorithm", request.DigestAlgorithm);
        }

        var session = await _uploads.StartAsync(ValidName(request.Repository), algorithm, context.CancellationToken);
        return new UploadStatus { UploadId = session.Id, Size = 0, StagingFolder = _uploads.StagingFolder(session.Id) ?? string.Empty };
    }

    /// <inheritdoc />
    public override Task<UploadStatus> GetUpload(UploadRef request, ServerCallContext context)
    {
        var session = _uploads.Get(ValidName(request.Repository), request.UploadId);
        return Task.FromResult(new UploadStatus { UploadId = session.Id, Size = session.Size });
    }

    /// <inheritdoc />
    public override async Task<UploadStatus> AppendUpload(IAsyncStreamReader<UploadChunk> requestStream, ServerCallContext context)
    {
        var cancellationToken = context.CancellationToken;
        if (!await NextAsync(requestStream, cancellationToken))
        {
            // The edge always writes the header first, so a stream with no message at all was sent again
            // by the HTTP/2 client after its connection went away (a request it may retry, whose body it
            // no longer has). The bytes never arrived: a retry of the whole request is safe.
            // (Seen when refusals were answered mid-stream; they now wait for small bodies to end, below.)
            throw new OciException(OciErrorCode.Unavailable, "the upload stream arrived empty; send the request again");
        }

        if (requestStream.Current.Header is not { } header)
        {
            throw new OciException(OciErrorCode.BlobUploadInvalid, "the first message must carry the upload header");
        }

        var first = requestStream.Current.Data;
        try
        {
            var size = await _uploads.AppendAsync(
                ValidName(header.Repository),
                header.UploadId,
                header.Offset,
                header.Length,
                ReadChunksAsync(first, requestStream, cancellationToken),
                CompletionDigest(header.CompleteDigest),
                cancellationToken);
            return new UploadStatus { UploadId = header.UploadId, Size = size };
        }
        catch (OciException) when (header.Length is >= 0 and <= DrainLimit)
        {
            // A refusal (unknown session, a chunk that does not continue the upload) is answered after the
            // rest of a small body has arrived: answering mid-stream makes the edge reset a stream it may
            // still be writing to, and DATA that reaches the server after the reset closes the whole shared
            // connection. Bounded by size and time; past them the answer goes at once.
            await DrainAsync(requestStream, cancellationToken);
            throw;
        }
    }

    /// <inheritdoc />
    public override Task<StagedAppend> PrepareStagedAppend(UploadRef request, ServerCallContext context)
    {
        var (path, name, size) = _uploads.PrepareStaged(ValidName(request.Repository), request.UploadId);
        return Task.FromResult(new StagedAppend { Path = path ?? string.Empty, Name = name, Size = size });
    }

    /// <inheritdoc />
    public override async Task<UploadStatus> AppendStaged(AppendStagedRequest request, ServerCallContext context)
    {
        var size = await _uploads.AppendStagedAsync(
            ValidName(request.Repository), request.UploadId, request.Offset, request.Length, request.Name,
            CompletionDigest(request.CompleteDigest), CompletionDigest(request.WrittenDigest), context.CancellationToken);
        return new UploadStatus { UploadId = request.UploadId, Size = size };
    }

    // The digest an append that also completes the upload names; null when it only appends.
    private static Digest? CompletionDigest(string text) =>
        text.Length == 0 ? null
        : Digest.TryParse(text, out var digest) ? digest
        : throw new OciException(OciErrorCode.DigestInvalid, "invalid or unsupported digest", text);

    private static async Task DrainAsync(IAsyncStreamReader<UploadChunk> stream, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(DrainTimeout);
        try
        {
            while (await stream.MoveNext(timeout.Token))
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or RpcException)
        {
            // Out of time or the caller went away: the refusal goes as it is.
        }
    }

    /// <inheritdoc />
    public override async Task<CompleteUploadReply> CompleteUpload(CompleteUploadRequest request, ServerCallContext context)
    {
        if (!Digest.TryParse(request.Digest, out var digest))
        {
            throw new OciException(OciErrorCode.DigestInvalid, "invalid or unsupported digest", request.Digest);
        }

        var size = await _uploads.CompleteAsync(ValidName(request.Repository), request.UploadId, digest, context.CancellationToken);
        return new CompleteUploadReply { Digest = digest.Value, Size = size };
    }

    /// <inheritdoc />
    public override async Task<CancelUploadReply> CancelUpload(UploadRef request, ServerCallContext context)
    {
        await _uploads.CancelAsync(ValidName(request.Repository), request.UploadId, context.CancellationToken);
        return new CancelUploadReply();
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> ReadChunksAsync(
        ByteString first,
        IAsyncStreamReader<UploadChunk> stream,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!first.IsEmpty)
        {
            yield return first.Memory;
        }

        while (await NextAsync(stream, cancellationToken))
        {
            yield return stream.Current.Data.Memory;
        }
    }

    // A caller that resets its stream surfaces as an IOException from the reader: that is a cancellation.
    private static async Task<bool> NextAsync(IAsyncStreamReader<UploadChunk> stream, CancellationToken cancellationToken)
    {
        try
        {
            return await stream.MoveNext(cancellationToken);
        }
        catch (IOException ex)
        {
            throw new CallerGoneException("the caller reset the upload stream", ex);
        }
    }

    private long LinkedSize(string repository, string digest) =>
        _metadata.GetLinkedSize(repository, digest) ?? throw new OciException(OciErrorCode.BlobUnknown, detail: digest);

    private static string ValidName(string repository) =>
        RepositoryName.IsValid(repository) ? repository : throw new OciException(OciErrorCode.NameInvalid, detail: repository);

    private static string ValidDigest(string digest) =>
        Digest.TryParse(digest, out _) ? digest : throw new OciException(OciErrorCode.DigestInvalid, "invalid digest", digest);
}
