using System.Buffers;
using Microsoft.Extensions.Options;
using Registry.Blob.Metadata;
using Registry.Hosting;
using Registry.Oci.Digests;
using Registry.Oci.Errors;
using Registry.Storage;
using Registry.Storage.Filesystem;

namespace Registry.Blob.Uploads;

/// <summary>
/// Upload sessions: bytes are appended to the session's file in storage, acknowledged (made durable and
/// recorded) only when a whole append succeeded, and moved to the blob's content-addressed path only
/// after their digest is verified. A failed or cancelled append leaves the session exactly as before.
///
/// Locking: appends, completion and cancellation of one session are serialised by the session's own
/// lock (<see cref="SessionLocks"/>), so two requests never interleave bytes in one file. An append that
/// finds its session busy fails at once instead of waiting with its bytes unread.
/// </summary>
internal sealed partial class UploadManager
{
    private readonly IStorageDriver _storage;
    private readonly BlobMetadataStore _metadata;
    private readonly UploadHashCache _hashes = new(capacity: 4096);
    private readonly SessionLocks _locks = new();
    // Commits of one blob, one at a time (keyed by digest), so a commit taking its bytes back cannot take
    // them from another upload of the same blob recorded meanwhile.
    private readonly SessionLocks _blobLocks = new();
    private readonly ILogger<UploadManager> _logger;
    private readonly BlobServiceOptions _options;
    private readonly TimeProvider _time;

    // One POST at a time looks for sessions to end at the cap; the others wait for what it freed.
    private readonly SemaphoreSlim _reclaiming = new(1, 1);
    private long _nothingToReclaimUntil; // UTC ticks: a look at the cap found nothing to end; until then none is made
    private long _capLoggedAt = long.MinValue / 2; // UTC ticks of the last cap warning
    private long _refusedSinceLog;

    public UploadManager(IStorageDriver storage, BlobMetadataStore metadata, IOptions<BlobServiceOptions> options, TimeProvider time, ILogger<UploadManager> logger)
    {
        _storage = storage;
        _metadata = metadata;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>
    /// Opens a session with an empty data file. At the open-session cap it first ends sessions idle for
    /// long (see <see cref="BlobServiceOptions.MaxOpenUploads"/>), or refuses with TOOMANYREQUESTS.
    /// </summary>
    public async Task<UploadSession> StartAsync(string repository, DigestAlgorithm algorithm, CancellationToken cancellationToken)
    {
        // The place under the cap is taken before the record is written, so concurrent POSTs cannot overshoot it.
        if (!_metadata.TryReserveUpload(_options.MaxOpenUploads))
        {
            await MakeRoomAsync(cancellationToken);
        }

        var id = Guid.NewGuid().ToString("N");

        // The record goes first: a folder without a record is then always an orphan the purger may delete.
        try
        {
            await _metadata.CreateUploadAsync(id, repository, algorithm, cancellationToken);
        }
        catch
        {
            _metadata.ReleaseUploadReservation();
            throw;
        }

        await using (var writer = await _storage.OpenWriterAsync(BlobPaths.UploadData(id), 0, cancellationToken))
        {
            await writer.CommitAsync(cancellationToken);
        }

        _hashes.Put(id, algorithm, 0, algorithm.CreateHash());
        Log.UploadStarted(_logger, id, repository);
        return new UploadSession(id, repository, algorithm, 0);
    }

    // At the cap: ends the stalest sessions idle for longer than UploadReclaimIdle that nobody is writing
    // to (no session lock, no chunk file an edge wrote lately), up to a batch at a time, and takes a place
    // for the caller; refuses when none is free. One caller looks at a time; the others waiting behind it
    // only try for what it freed, and after a look that found nothing, callers are refused for a second
    // without looking again.
    private async Task MakeRoomAsync(CancellationToken cancellationToken)
    {
        var cap = _options.MaxOpenUploads;
        var now = _time.GetUtcNow();
        if (now.UtcTicks >= Interlocked.Read(ref _nothingToReclaimUntil))
        {
            if (await _reclaiming.WaitAsync(0, CancellationToken.None))
            {
                try
                {
                    await ReclaimIdleAsync(now, cap, cancellationToken);
                }
                finally
                {
                    _reclaiming.Release();
                }
            }
            else
            {
                await _reclaiming.WaitAsync(cancellationToken);
                _reclaiming.Release();
            }

            if (_metadata.TryReserveUpload(cap))
            {
                return;
            }
        }

        RefuseAtCap(cap, now);
    }

    private async Task ReclaimIdleAsync(DateTimeOffset now, int cap, CancellationToken cancellationToken)
    {
        var idleSince = now - _options.UploadReclaimIdle;
        var ended = 0;
        foreach (var id in _metadata.ListStaleUploads(idleSince, ReclaimBatch))
        {
            if (!_locks.TryAcquire(id, out var held))
            {
                continue;
            }

            using (held)
            {
                if (HasRecentChunk(id, idleSince))
                {
                    continue;
                }

                await RemoveAsync(id, cancellationToken);
                ended++;
            }
        }

        if (ended > 0)
        {
            Log.SessionsReclaimed(_logger, ended, cap);
        }
        else
        {
            Interlocked.Exchange(ref _nothingToReclaimUntil, (now + TimeSpan.FromSeconds(1)).UtcTicks);
        }
    }

    // The refusal is counted, and logged at most every ten seconds with how many there were since.
    private void RefuseAtCap(int cap, DateTimeOffset now)
    {
        UploadMetrics.SessionsRefused.Inc();
        var refused = Interlocked.Increment(ref _refusedSinceLog);
        var last = Interlocked.Read(ref _capLoggedAt);
        if (now.UtcTicks - last >= TimeSpan.TicksPerSecond * 10 && Interlocked.CompareExchange(ref _capLoggedAt, now.UtcTicks, last) == last)
        {
            Interlocked.Add(ref _refusedSinceLog, -refused);
            Log.SessionCapReached(_logger, cap, refused);
        }

        throw new OciException(
            OciErrorCode.TooManyRequests,
            "too many upload sessions are open; finish or cancel some, or retry later",
            $"{cap} open, none idle for {_options.UploadReclaimIdle:c} and free to end")
        {
            RetryAfter = TimeSpan.FromSeconds(ReclaimRetrySeconds),
        };
    }

    private const int ReclaimBatch = 64;
    private const int ReclaimRetrySeconds = 30;

    // An edge writing a body into the session's folder (the staged path) holds no session lock until it
    // hands the file over; its chunk file's write time shows it is there.
    private bool HasRecentChunk(string uploadId, DateTimeOffset since)
    {
        if (_storage.GetLocalPath(BlobPaths.UploadFolder(uploadId)) is not { } folder || !Directory.Exists(folder))
        {
            return false;
        }

        foreach (var file in new DirectoryInfo(folder).EnumerateFiles(StagedPrefix + "*"))
        {
            if (file.LastWriteTimeUtc >= since.UtcDateTime)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Reads a session; BLOB_UPLOAD_UNKNOWN when it does not exist in this repository.</summary>
    public UploadSession Get(string repository, string uploadId)
    {
        if (!IsValidId(uploadId))
        {
            throw new OciException(OciErrorCode.BlobUploadUnknown, "upload id is malformed", uploadId);
        }

        var session = _metadata.GetUpload(uploadId);
        if (session is null || !string.Equals(session.Repository, repository, StringComparison.Ordinal))
        {
            throw new OciException(OciErrorCode.BlobUploadUnknown, detail: uploadId);
        }

        return session;
    }

    /// <summary>
    /// Appends the chunks read from <paramref name="chunks"/>. <paramref name="offset"/> must equal the
    /// session's size (negative: append wherever it is); <paramref name="length"/>, when not negative,
    /// must equal the bytes received.
    /// </summary>
    public async Task<long> AppendAsync(
        string repository,
        string uploadId,
        long offset,
        long length,
        IAsyncEnumerable<ReadOnlyMemory<byte>> chunks,
        CancellationToken cancellationToken) =>
        await AppendAsync(repository, uploadId, offset, length, chunks, completeWith: null, cancellationToken);

    /// <summary>
    /// <see cref="AppendAsync(string, string, long, long, IAsyncEnumerable{ReadOnlyMemory{byte}}, CancellationToken)"/>;
    /// when <paramref name="completeWith"/> is given the upload is also completed in the same locked step:
    /// the bytes are committed as a blob only when their digest matches, and on a wrong digest the chunk
    /// is taken back, so the session stays as it was. Returns the session's (or the blob's) size.
    /// </summary>
    public async Task<long> AppendAsync(
        string repository,
        string uploadId,
        long offset,
        long length,
        IAsyncEnumerable<ReadOnlyMemory<byte>> chunks,
        Digest? completeWith,
        CancellationToken cancellationToken)
    {
        // Waiting long here would leave this request's bytes unread in the shared gRPC connection; a second
        // writer to one session is a client error anyway (chunks are sequential).
        using (var held = await LockForWriteAsync(repository, uploadId, cancellationToken))
        {
            var session = GetContinued(repository, uploadId, offset);

            var hash = _hashes.Take(uploadId, session.Algorithm, session.Size);
            var acknowledged = false;
            try
            {
                IStorageWriter opened;
                try
                {
                    opened = await _storage.OpenWriterAsync(BlobPaths.UploadData(uploadId), session.Size, cancellationToken);
                }
                catch (StorageNotFoundException)
                {
                    await RemoveAsync(uploadId, CancellationToken.None);
                    throw new OciException(OciErrorCode.BlobUploadUnknown, "the upload's bytes are gone; start a new upload", uploadId);
                }

                await using var writer = opened;
                long received = 0;
                await foreach (var chunk in chunks.WithCancellation(cancellationToken))
                {
                    received += chunk.Length;
                    if (length >= 0 && received > length)
                    {
                        throw new OciException(OciErrorCode.SizeInvalid, "more bytes than the declared length",
                            $"declared {length}");
                    }

                    await writer.WriteAsync(chunk, cancellationToken);
                    hash?.AppendData(chunk.Span);
                }

                if (length >= 0 && received != length)
                {
                    throw new OciException(OciErrorCode.SizeInvalid, "fewer bytes than the declared length",
                        $"declared {length}, received {received}");
                }

                if (completeWith is { } digest)
                {
                    // Checked before the writer commits: a wrong digest leaves the chunk uncommitted, and
                    // the writer takes it back on dispose.
                    var actual = hash is not null && digest.Algorithm == session.Algorithm
                        ? Digest.FromHash(digest.Algorithm, hash)
                        : await DigestOfFileAsync(digest.Algorithm, BlobPaths.UploadData(uploadId), writer.Size, cancellationToken);
                    if (actual != digest)
                    {
                        throw new OciException(OciErrorCode.DigestInvalid, detail: $"expected {digest}, content is {actual}");
                    }

                    await writer.CommitAsync(cancellationToken);
                    await writer.DisposeAsync();
                    return await CommitVerifiedAsync(repository, uploadId, BlobPaths.UploadData(uploadId), digest, writer.Size, cancellationToken);
                }

                await writer.CommitAsync(cancellationToken);
                await _metadata.SetUploadSizeAsync(uploadId, writer.Size, cancellationToken);
                acknowledged = true;
                if (hash is not null)
                {
                    _hashes.Put(uploadId, session.Algorithm, writer.Size, hash);
                }

                Log.ChunkAppended(_logger, uploadId, received, writer.Size);
                return writer.Size;
            }
            finally
            {
                if (!acknowledged)
                {
                    // The writer took its bytes back on dispose; a hash that saw them is no use any more.
                    hash?.Dispose();
                }
            }
        }
    }

    /// <summary>
    /// The session's folder on the local filesystem, where a caller sharing it may create chunk files
    /// named like <see cref="PrepareStaged"/>'s (<see cref="IsValidStagedName"/>); null when storage has no local files.
    /// </summary>
    public string? StagingFolder(string uploadId) => _storage.GetLocalPath(BlobPaths.UploadFolder(uploadId));

    /// <summary>
    /// Names a new file in the session's folder that a caller sharing this filesystem may write a chunk
    /// into (<see cref="AppendStagedAsync"/> hands it over), with the session's size; null path when
    /// storage has no local files.
    /// </summary>
    public (string? Path, string Name, long Size) PrepareStaged(string repository, string uploadId)
    {
        var session = Get(repository, uploadId);
        var name = StagedPrefix + Guid.NewGuid().ToString("N");
        return (_storage.GetLocalPath(BlobPaths.UploadStaged(uploadId, name)), name, session.Size);
    }

    /// <summary>
    /// Appends the bytes of a staged chunk file (see <see cref="PrepareStaged"/>) with the checks and
    /// guarantees of <see cref="AppendAsync(string, string, long, long, IAsyncEnumerable{ReadOnlyMemory{byte}}, CancellationToken)"/>, and removes the file whatever happens. A first chunk
    /// takes the place of the session's empty data file by a rename; later chunks are copied. When
    /// <paramref name="completeWith"/> is given, the upload is completed too, under the same lock: the
    /// session's bytes and the chunk are verified against the digest and committed as a blob (a first
    /// chunk goes straight to the blob's path); on a wrong digest the session stays exactly as it was
    /// before the chunk. <paramref name="written"/> is the digest the writer took of the chunk's bytes on
    /// their way into the file: for a first chunk that completes the upload it stands in for reading the
    /// file back (the writer is an edge of this registry); otherwise it is ignored. Returns the session's
    /// (or the blob's) size.
    /// </summary>
    public async Task<long> AppendStagedAsync(
        string repository,
        string uploadId,
        long offset,
        long length,
        string name,
        Digest? completeWith,
        Digest? written,
        CancellationToken cancellationToken)
    {
        if (!IsValidId(uploadId) || !IsValidStagedName(name))
        {
            throw new OciException(OciErrorCode.BlobUploadInvalid, "malformed upload id or chunk file name", name);
        }

        var stagedPath = BlobPaths.UploadStaged(uploadId, name);
        try
        {
            using var held = await LockForWriteAsync(repository, uploadId, cancellationToken);
            var session = GetContinued(repository, uploadId, offset);
            var received = await _storage.GetSizeAsync(stagedPath, cancellationToken)
                ?? throw new OciException(OciErrorCode.BlobUploadInvalid, "the chunk's file is missing", name);
            if (length >= 0 && received != length)
            {
                throw new OciException(OciErrorCode.SizeInvalid, "the chunk's size differs from the declared length",
                    $"declared {length}, received {received}");
            }

            if (completeWith is { } digest)
            {
                return await CompleteWithStagedAsync(repository, session, stagedPath, received, digest, written, cancellationToken);
            }

            var hash = _hashes.Take(uploadId, session.Algorithm, session.Size);
            var acknowledged = false;
            try
            {
                long size;
                if (session.Size == 0)
                {
                    if (hash is not null)
                    {
                        await HashFileAsync(hash, stagedPath, received, firstChunk: true, cancellationToken);
                    }

                    // The session's data file is empty: the chunk's file simply becomes it.
                    await _storage.ReplaceAsync(stagedPath, BlobPaths.UploadData(uploadId), cancellationToken);
                    size = received;
                }
                else
                {
                    size = await CopyStagedAsync(uploadId, session.Size, stagedPath, hash, cancellationToken);
                }

                await _metadata.SetUploadSizeAsync(uploadId, size, cancellationToken);
                acknowledged = true;
                if (hash is not null)
                {
                    _hashes.Put(uploadId, session.Algorithm, size, hash);
                }

                Log.ChunkAppended(_logger, uploadId, received, size);
                return size;
            }
            finally
            {
                if (!acknowledged)
                {
                    hash?.Dispose();
                }
            }
        }
        finally
        {
            try
            {
                await _storage.DeleteAsync(stagedPath, CancellationToken.None);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The session's folder goes with the session: a leftover file is removed then.
                Log.CleanupFailed(_logger, uploadId, ex);
            }
        }
    }

    // The last chunk and the completion in one step (the caller holds the session's lock). Nothing is
    // recorded until the digest is proven, so a wrong digest leaves the session as it was.
    private async Task<long> CompleteWithStagedAsync(
        string repository,
        UploadSession session,
        string stagedPath,
        long received,
        Digest digest,
        Digest? written,
        CancellationToken cancellationToken)
    {
        var dataPath = BlobPaths.UploadData(session.Id);
        Digest actual;
        if (session.Size == 0 && written is { } edgeDigest && edgeDigest.Algorithm == digest.Algorithm)
        {
            // The chunk is the whole blob and the edge hashed it while writing it (its bytes sit on disk,
            // not in the page cache: reading them back would cost a disk read per push).
            _hashes.Take(session.Id, digest.Algorithm, 0)?.Dispose();
            actual = edgeDigest;
        }
        else
        {
            using var hash = _hashes.Take(session.Id, digest.Algorithm, session.Size) ?? await HashSessionAsync(session, digest.Algorithm, dataPath, cancellationToken);
            await HashFileAsync(hash, stagedPath, received, firstChunk: session.Size == 0, cancellationToken);
            actual = Digest.FromHash(digest.Algorithm, hash);
        }

        if (actual != digest)
        {
            // The running hash went into the check; a later completion reads the session's bytes back.
            throw new OciException(OciErrorCode.DigestInvalid, detail: $"expected {digest}, content is {actual}");
        }

        if (session.Size == 0)
        {
            // The chunk is the whole blob: it goes to the blob's path as it is.
            return await CommitVerifiedAsync(repository, session.Id, stagedPath, digest, received, cancellationToken);
        }

        var size = await CopyStagedAsync(session.Id, session.Size, stagedPath, hash: null, cancellationToken);
        return await CommitVerifiedAsync(repository, session.Id, dataPath, digest, size, cancellationToken);
    }

    // Moves verified bytes to the blob's path and records the blob, which ends the session. When the blob's
    // file is there already (the same bytes: files reach that path only verified), it is recorded first and
    // the session's copy deleted after, so a refused record leaves the session as it was. Otherwise the
    // move comes first, and a record refused for want of space takes the bytes back (to the session's data
    // when they were its acknowledged bytes, else away): the session stays as it was, and no unrecorded
    // file is left in the blobs' folder holding space when space is short.
    private async Task<long> CommitVerifiedAsync(string repository, string uploadId, string path, Digest digest, long size, CancellationToken cancellationToken)
    {
        var blobPath = BlobPaths.Blob(digest.Value);
        using (await _blobLocks.AcquireAsync(digest.Value, cancellationToken))
        {
            if (await _storage.GetSizeAsync(blobPath, cancellationToken) is not null)
            {
                await _metadata.CommitBlobAsync(digest.Value, size, repository, uploadId, cancellationToken);
                await _storage.MoveAsync(path, blobPath, CancellationToken.None);
            }
            else
            {
                await _storage.MoveAsync(path, blobPath, cancellationToken);
                try
                {
                    // Past the move there is no going back: the record must follow even if the caller has gone.
                    await _metadata.CommitBlobAsync(digest.Value, size, repository, uploadId, CancellationToken.None);
                }
                catch (Exception ex) when (StorageFull.Is(ex))
                {
                    await TakeBackAsync(uploadId, path, blobPath);
                    throw;
                }
            }
        }

        _hashes.Remove(uploadId);
        await DeleteFolderQuietlyAsync(uploadId);
        Log.UploadCommitted(_logger, uploadId, digest.Value, size);
        return size;
    }

    // Undoes the move of a commit whose record was refused: acknowledged bytes (the session's data file)
    // go back to the session; a chunk that was never acknowledged is deleted.
    private async Task TakeBackAsync(string uploadId, string path, string blobPath)
    {
        try
        {
            if (path == BlobPaths.UploadData(uploadId))
            {
                await _storage.ReplaceAsync(blobPath, path, CancellationToken.None);
            }
            else
            {
                await _storage.DeleteAsync(blobPath, CancellationToken.None);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or StorageNotFoundException)
        {
            // The file stays at the blob's path unrecorded: a retried PUT records it (RecoverLostBytesAsync).
            Log.CleanupFailed(_logger, uploadId, ex);
        }
    }

    private async Task<Digest> DigestOfFileAsync(DigestAlgorithm algorithm, string path, long length, CancellationToken cancellationToken)
    {
        using var hash = algorithm.CreateHash();
        await HashFileAsync(hash, path, length, firstChunk: false, cancellationToken);
        return Digest.FromHash(algorithm, hash);
    }

    // A fresh hash over the session's acknowledged bytes: no running hash (restart, cache full, or another
    // algorithm than announced), so they are read back.
    private async Task<System.Security.Cryptography.IncrementalHash> HashSessionAsync(
        UploadSession session, DigestAlgorithm algorithm, string dataPath, CancellationToken cancellationToken)
    {
        var hash = algorithm.CreateHash();
        try
        {
            await HashFileAsync(hash, dataPath, session.Size, firstChunk: false, cancellationToken);
            return hash;
        }
        catch
        {
            hash.Dispose();
            throw;
        }
    }

    /// <summary>Chunk file names: the prefix and 32 lowercase hex characters.</summary>
    public static bool IsValidStagedName(string name) =>
        name.Length == StagedPrefix.Length + 32
        && name.StartsWith(StagedPrefix, StringComparison.Ordinal)
        && IsValidId(name[StagedPrefix.Length..]);

    private const string StagedPrefix = "chunk-";

    // How long a write, completion or cancel waits for a session another request holds: enough for a
    // quick holder (a cancel, a commit) to finish, after which the caller finds what it left (the session
    // gone: 404), not enough to wait on a chunk being written at its sender's pace.
    private static readonly TimeSpan BusyWait = TimeSpan.FromMilliseconds(100);

    private async ValueTask<SessionLocks.Holder?> TryLockBrieflyAsync(string uploadId, CancellationToken cancellationToken) =>
        _locks.TryAcquire(uploadId, out var held) ? held : await _locks.TryAcquireAsync(uploadId, BusyWait, cancellationToken);

    private async ValueTask<SessionLocks.Holder> LockForWriteAsync(string repository, string uploadId, CancellationToken cancellationToken)
    {
        if (await TryLockBrieflyAsync(uploadId, cancellationToken) is { } held)
        {
            return held;
        }

        var busy = Get(repository, uploadId);
        throw new OciException(
            OciErrorCode.BlobUploadInvalid,
            "another request is writing to this upload; ask for its status and continue from there",
            uploadId,
            httpStatus: 416) { UploadSize = busy.Size };
    }

    // The session, when the chunk continues it (offset negative: wherever it is); 416 otherwise.
    private UploadSession GetContinued(string repository, string uploadId, long offset)
    {
        var session = Get(repository, uploadId);
        if (offset >= 0 && offset != session.Size)
        {
            throw OciException.ChunkDoesNotContinue(offset, session.Size);
        }

        return session;
    }

    private async Task HashFileAsync(System.Security.Cryptography.IncrementalHash hash, string path, long length, bool firstChunk, CancellationToken cancellationToken)
    {
        if (length == 0)
        {
            return;
        }

        if (OpenUncached(path, firstChunk) is { } uncached)
        {
            using (uncached)
            {
                var left = length;
                while (left > 0)
                {
                    var bytes = uncached.ReadNext();
                    if (bytes.IsEmpty)
                    {
                        throw new InvalidOperationException($"{path} holds fewer bytes than acknowledged");
                    }

                    bytes = bytes[..(int)Math.Min(bytes.Length, left)];
                    hash.AppendData(bytes);
                    left -= bytes.Length;
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }

            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            await using var stream = await _storage.OpenReadAsync(path, 0, cancellationToken);
            var remaining = length;
            while (remaining > 0)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, remaining)), cancellationToken);
                if (read == 0)
                {
                    throw new InvalidOperationException($"{path} holds fewer bytes than acknowledged");
                }

                hash.AppendData(buffer, 0, read);
                remaining -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task<long> CopyStagedAsync(
        string uploadId,
        long resumeAt,
        string stagedPath,
        System.Security.Cryptography.IncrementalHash? hash,
        CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(128 * 1024);
        try
        {
            IStorageWriter opened;
            try
            {
                opened = await _storage.OpenWriterAsync(BlobPaths.UploadData(uploadId), resumeAt, cancellationToken);
            }
            catch (StorageNotFoundException)
            {
                await RemoveAsync(uploadId, CancellationToken.None);
                throw new OciException(OciErrorCode.BlobUploadUnknown, "the upload's bytes are gone; start a new upload", uploadId);
            }

            await using var writer = opened;
            await using var source = await _storage.OpenReadAsync(stagedPath, 0, cancellationToken);
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken)) > 0)
            {
                await writer.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                hash?.AppendData(buffer, 0, read);
            }

            await writer.CommitAsync(cancellationToken);
            return writer.Size;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // A session's first chunk, read past the page cache where storage is local files and the filesystem
    // allows it: the edge wrote it so (StagedUploadBody; see UncachedFile). Later chunks were written through
    // the cache, and reading a file with dirty cached pages past the cache would first wait for their write-out.
    // Null means read it through the storage driver.
    private UncachedReader? OpenUncached(string path, bool firstChunk) =>
        firstChunk && _options.UncachedChunkReads && _storage.GetLocalPath(path) is { } local ? UncachedFile.TryOpenRead(local) : null;

    /// <summary>Verifies the session's bytes against <paramref name="digest"/> and commits them as a blob.</summary>
    public async Task<long> CompleteAsync(string repository, string uploadId, Digest digest, CancellationToken cancellationToken)
    {
        // Not waited for long: a chunk being written may take as long as its sender likes.
        var held = await LockForWriteAsync(repository, uploadId, cancellationToken);
        try
        {
            var session = Get(repository, uploadId);
            var dataPath = BlobPaths.UploadData(uploadId);
            Digest actual;
            try
            {
                actual = await ComputeDigestAsync(session, digest.Algorithm, dataPath, cancellationToken);
            }
            catch (StorageNotFoundException)
            {
                return await RecoverLostBytesAsync(repository, session, digest, cancellationToken);
            }

            if (actual != digest)
            {
                // The session stays as it was: the client may append more or retry with the right digest.
                throw new OciException(OciErrorCode.DigestInvalid, detail: $"expected {digest}, content is {actual}");
            }

            return await CommitVerifiedAsync(repository, uploadId, dataPath, digest, session.Size, cancellationToken);
        }
        finally
        {
            held.Dispose();
        }
    }

    // The session's bytes are missing. Either a crash fell between moving them to the blob's path and
    // recording the blob (then the blob is there, verified before the move: record it now), or storage
    // lost them (then the session is dead: drop it, so the client starts over instead of failing forever).
    private async Task<long> RecoverLostBytesAsync(string repository, UploadSession session, Digest digest, CancellationToken cancellationToken)
    {
        long? committed = null;
        using var blobLock = await _blobLocks.AcquireAsync(digest.Value, cancellationToken);
        try
        {
            committed = await _storage.GetSizeAsync(BlobPaths.Blob(digest.Value), cancellationToken);
        }
        catch (StorageNotFoundException)
        {
        }

        if (committed == session.Size)
        {
            await _metadata.CommitBlobAsync(digest.Value, session.Size, repository, session.Id, CancellationToken.None);
            _hashes.Remove(session.Id);
            await DeleteFolderQuietlyAsync(session.Id);
            Log.UploadRecovered(_logger, session.Id, digest.Value);
            return session.Size;
        }

        await RemoveAsync(session.Id, CancellationToken.None);
        throw new OciException(OciErrorCode.BlobUploadUnknown, "the upload's bytes are gone; start a new upload", session.Id);
    }

    /// <summary>Cancels a session and deletes its bytes.</summary>
    public async Task CancelAsync(string repository, string uploadId, CancellationToken cancellationToken)
    {
        // Not waited for long: a chunk being written may take as long as its sender likes, and a DELETE
        // waiting behind it would hold its place in the edge's blob stage as long.
        if (await TryLockBrieflyAsync(uploadId, cancellationToken) is not { } held)
        {
            Get(repository, uploadId);
            throw new OciException(
                OciErrorCode.BlobUploadInvalid,
                "another request is writing to this upload; cancel it once that request has ended",
                uploadId,
                httpStatus: 409);
        }

        try
        {
            Get(repository, uploadId);
            await RemoveAsync(uploadId, cancellationToken);
        }
        finally
        {
            held.Dispose();
        }
    }

    /// <summary>
    /// Removes a session whatever its repository (the purger's path). A session a request is writing to
    /// is left for a later pass (false): however stale its record, its writer is there.
    /// </summary>
    public async Task<bool> PurgeAsync(string uploadId, CancellationToken cancellationToken)
    {
        if (!_locks.TryAcquire(uploadId, out var held))
        {
            return false;
        }

        try
        {
            await RemoveAsync(uploadId, cancellationToken);
            return true;
        }
        finally
        {
            held.Dispose();
        }
    }

    /// <summary>
    /// Deletes upload folders that have no session record: left by a crash between removing a record and
    /// its bytes. Returns how many went.
    /// </summary>
    public async Task<int> DeleteOrphansAsync(CancellationToken cancellationToken)
    {
        var orphans = new List<string>();
        await foreach (var name in _storage.ListAsync(BlobPaths.UploadsRoot, cancellationToken))
        {
            // Only names this service could have made; anything else in the folder is not ours to delete.
            if (IsValidId(name) && _metadata.GetUpload(name) is null)
            {
                orphans.Add(name);
            }
        }

        var purged = 0;
        foreach (var name in orphans)
        {
            if (await PurgeAsync(name, cancellationToken))
            {
                purged++;
            }
        }

        return purged;
    }

    /// <summary>
    /// Deletes chunk files (see <see cref="PrepareStaged"/>) last written before <paramref name="before"/>:
    /// left by an edge that stopped mid-body (a crash), in sessions that live on. A request writes its
    /// chunk file continuously (a stalled body is cut off within seconds), so an old one has no writer.
    /// Returns how many went.
    /// </summary>
    public async Task<int> DeleteAbandonedChunksAsync(DateTimeOffset before, CancellationToken cancellationToken)
    {
        var abandoned = new List<string>();
        await foreach (var id in _storage.ListAsync(BlobPaths.UploadsRoot, cancellationToken))
        {
            if (!IsValidId(id))
            {
                continue;
            }

            await foreach (var name in _storage.ListAsync(BlobPaths.UploadFolder(id), cancellationToken))
            {
                if (IsValidStagedName(name)
                    && _storage.GetLocalPath(BlobPaths.UploadStaged(id, name)) is { } path
                    && new FileInfo(path) is { Exists: true } file
                    && file.LastWriteTimeUtc < before.UtcDateTime)
                {
                    abandoned.Add(BlobPaths.UploadStaged(id, name));
                }
            }
        }

        foreach (var path in abandoned)
        {
            await _storage.DeleteAsync(path, cancellationToken);
        }

        return abandoned.Count;
    }

    private async Task RemoveAsync(string uploadId, CancellationToken cancellationToken)
    {
        // The record goes first: a crash between the two leaves only unreferenced bytes, never a
        // session whose bytes are gone.
        await _metadata.DeleteUploadAsync(uploadId, cancellationToken);
        _hashes.Remove(uploadId);
        await DeleteFolderQuietlyAsync(uploadId);
    }

    private async Task<Digest> ComputeDigestAsync(UploadSession session, DigestAlgorithm algorithm, string dataPath, CancellationToken cancellationToken)
    {
        using var hash = _hashes.Take(session.Id, algorithm, session.Size) ?? await HashSessionAsync(session, algorithm, dataPath, cancellationToken);
        return Digest.FromHash(algorithm, hash);
    }

    private async Task DeleteFolderQuietlyAsync(string uploadId)
    {
        try
        {
            // Not the caller's token: the session record is gone, so its bytes must go too.
            await _storage.DeleteAsync(BlobPaths.UploadFolder(uploadId), CancellationToken.None);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.CleanupFailed(_logger, uploadId, ex);
        }
    }

    /// <summary>Upload ids are 32 lowercase hex characters; anything else never reaches storage paths.</summary>
    public static bool IsValidId(string id)
    {
        if (id.Length != 32)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }
}
