using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Registry.Blob;
using Registry.Blob.Metadata;
using Registry.Blob.Uploads;
using Registry.Oci.Digests;
using Registry.Oci.Errors;
using Registry.Storage;
using Registry.Storage.Filesystem;
using Registry.UnitTests.Support;

namespace Registry.UnitTests.Blob.Uploads;

// Staged appends take buffers from the process's one pool of uncached-I/O buffers, which UncachedFileTests count.
[Collection(Registry.UnitTests.Storage.UncachedFileCollection.Name)]
public sealed class UploadManagerTests : IDisposable
{
    private const string Repository = "team/app";

    private readonly TempDirectory _root = new();
    private readonly ManualTimeProvider _time = new();
    private readonly FilesystemDriver _storage;
    private readonly BlobMetadataStore _metadata;
    private readonly UploadManager _uploads;

    public UploadManagerTests()
    {
        _storage = new FilesystemDriver(new FilesystemDriverOptions { RootDirectory = _root.Path });
        _metadata = new BlobMetadataStore(Path.Combine(_root.Path, "blobs.db"), _time);
        _uploads = NewManager();
    }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _root.Dispose();
    }

    [Fact]
    public async Task Append_StalledSession_DoesNotHoldUpOtherSessions_AndASecondWriterIsRefusedAtOnce()
    {
        var stalled = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = _uploads.AppendAsync(Repository, stalled.Id, 0, 4, StalledChunks([1, 2], [3, 4], release.Task), CancellationToken.None);

        // Many other sessions append while the first one waits for bytes.
        for (var i = 0; i < 100; i++)
        {
            var other = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
            var size = await _uploads.AppendAsync(Repository, other.Id, 0, 3, Chunks([9, 9, 9]), CancellationToken.None)
                .WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(3, size);
        }

        var busy = await Assert.ThrowsAsync<OciException>(() =>
            _uploads.AppendAsync(Repository, stalled.Id, 0, 1, Chunks([7]), CancellationToken.None));
        Assert.Equal(OciErrorCode.BlobUploadInvalid, busy.Code);
        Assert.Equal(416, busy.HttpStatus);

        release.SetResult();
        Assert.Equal(4, await slow.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(4, _uploads.Get(Repository, stalled.Id).Size);
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> StalledChunks(byte[] first, byte[] second, Task release)
    {
        yield return first;
        await release;
        yield return second;
    }

    [Fact]
    public async Task Complete_AfterCrashBetweenMoveAndRecord_RecordsTheBlob()
    {
        byte[] content = [1, 2, 3, 4, 5];
        var digest = Digest.Compute(DigestAlgorithm.Sha256, content);
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        await _uploads.AppendAsync(Repository, session.Id, 0, content.Length, Chunks(content), CancellationToken.None);

        // What a crash right after the move leaves: the bytes at the blob's path, no record, the session open.
        await _storage.MoveAsync(BlobPaths.UploadData(session.Id), BlobPaths.Blob(digest.Value), CancellationToken.None);
        var restarted = NewManager();

        Assert.Equal(content.Length, await restarted.CompleteAsync(Repository, session.Id, digest, CancellationToken.None));
        Assert.Equal(content.Length, _metadata.GetLinkedSize(Repository, digest.Value));
    }

    [Fact]
    public async Task SessionWhoseBytesAreGone_AnswersUploadUnknown_NotAnInternalError()
    {
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        await _uploads.AppendAsync(Repository, session.Id, 0, 3, Chunks([1, 2, 3]), CancellationToken.None);
        await _storage.DeleteAsync(BlobPaths.UploadFolder(session.Id), CancellationToken.None);
        var restarted = NewManager();

        var append = await Assert.ThrowsAsync<OciException>(() =>
            restarted.AppendAsync(Repository, session.Id, 3, 1, Chunks([4]), CancellationToken.None));
        Assert.Equal(OciErrorCode.BlobUploadUnknown, append.Code);
        var again = await Assert.ThrowsAsync<OciException>(() => Task.FromResult(restarted.Get(Repository, session.Id)));
        Assert.Equal(OciErrorCode.BlobUploadUnknown, again.Code);
    }

    [Fact]
    public async Task Append_BodyFailsMidway_LeavesSessionAsBefore()
    {
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        await _uploads.AppendAsync(Repository, session.Id, 0, 4, Chunks([1, 2, 3, 4]), CancellationToken.None);

        await Assert.ThrowsAsync<IOException>(() =>
            _uploads.AppendAsync(Repository, session.Id, 4, 8, FailingChunks([5, 6, 7]), CancellationToken.None));

        Assert.Equal(4, _uploads.Get(Repository, session.Id).Size);
        Assert.Equal(4, await _storage.GetSizeAsync(BlobPaths.UploadData(session.Id), CancellationToken.None));
    }

    [Fact]
    public async Task Append_FewerBytesThanDeclared_IsSizeInvalidAndWritesNothing()
    {
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);

        var error = await Assert.ThrowsAsync<OciException>(() =>
            _uploads.AppendAsync(Repository, session.Id, 0, 10, Chunks([1, 2, 3]), CancellationToken.None));

        Assert.Equal(OciErrorCode.SizeInvalid, error.Code);
        Assert.Equal(0, _uploads.Get(Repository, session.Id).Size);
    }

    [Fact]
    public async Task Append_OffsetNotAtSessionSize_Is416WithTheSessionSize()
    {
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        await _uploads.AppendAsync(Repository, session.Id, 0, 3, Chunks([1, 2, 3]), CancellationToken.None);

        var error = await Assert.ThrowsAsync<OciException>(() =>
            _uploads.AppendAsync(Repository, session.Id, 10, 3, Chunks([4, 5, 6]), CancellationToken.None));

        Assert.Equal(416, error.HttpStatus);
        Assert.Equal(3, error.UploadSize);
    }

    [Fact]
    public async Task Complete_WrongDigest_KeepsTheSessionResumable()
    {
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        await _uploads.AppendAsync(Repository, session.Id, 0, 3, Chunks([1, 2, 3]), CancellationToken.None);
        var wrong = Digest.Compute(DigestAlgorithm.Sha256, [9, 9, 9]);

        var error = await Assert.ThrowsAsync<OciException>(() =>
            _uploads.CompleteAsync(Repository, session.Id, wrong, CancellationToken.None));

        Assert.Equal(OciErrorCode.DigestInvalid, error.Code);
        Assert.Equal(3, _uploads.Get(Repository, session.Id).Size);
        Assert.Null(_metadata.GetLinkedSize(Repository, wrong.Value));
    }

    [Fact]
    public async Task CompleteStaged_WholeBlobWithTheEdgesDigest_CommitsWithoutRereadingTheChunk()
    {
        var content = new byte[300_000];
        new Random(7).NextBytes(content);
        var digest = Digest.Compute(DigestAlgorithm.Sha256, content);
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        var (path, name, _) = _uploads.PrepareStaged(Repository, session.Id);
        await File.WriteAllBytesAsync(path!, content);

        var size = await _uploads.AppendStagedAsync(Repository, session.Id, 0, content.Length, name, digest, written: digest, CancellationToken.None);

        Assert.Equal(content.Length, size);
        Assert.Equal(content.Length, _metadata.GetLinkedSize(Repository, digest.Value));
        Assert.Equal(content, await File.ReadAllBytesAsync(_storage.GetLocalPath(BlobPaths.Blob(digest.Value))!));
    }

    [Fact]
    public async Task CompleteStaged_EdgesDigestDiffersFromTheClaimed_IsDigestInvalidAndTheSessionStaysEmpty()
    {
        byte[] content = [1, 2, 3, 4];
        var claimed = Digest.Compute(DigestAlgorithm.Sha256, content);
        var written = Digest.Compute(DigestAlgorithm.Sha256, [1, 2, 3, 5]);
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        var (path, name, _) = _uploads.PrepareStaged(Repository, session.Id);
        await File.WriteAllBytesAsync(path!, content);

        var error = await Assert.ThrowsAsync<OciException>(() =>
            _uploads.AppendStagedAsync(Repository, session.Id, 0, content.Length, name, claimed, written, CancellationToken.None));

        Assert.Equal(OciErrorCode.DigestInvalid, error.Code);
        Assert.Equal(0, _uploads.Get(Repository, session.Id).Size);
        Assert.Null(_metadata.GetLinkedSize(Repository, claimed.Value));
        Assert.False(File.Exists(path));
    }

    [Fact]
    public async Task CompleteStaged_SessionHoldsBytesAlready_IgnoresTheEdgesDigestAndHashesEverything()
    {
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        await _uploads.AppendAsync(Repository, session.Id, 0, 2, Chunks([1, 2]), CancellationToken.None);
        var (path, name, _) = _uploads.PrepareStaged(Repository, session.Id);
        await File.WriteAllBytesAsync(path!, [3, 4]);
        var whole = Digest.Compute(DigestAlgorithm.Sha256, [1, 2, 3, 4]);
        var chunkOnly = Digest.Compute(DigestAlgorithm.Sha256, [3, 4]);

        // The edge's digest covers only the chunk: taken for the whole blob it would be wrong either way.
        var error = await Assert.ThrowsAsync<OciException>(() =>
            _uploads.AppendStagedAsync(Repository, session.Id, 2, 2, name, chunkOnly, chunkOnly, CancellationToken.None));
        Assert.Equal(OciErrorCode.DigestInvalid, error.Code);

        (path, name, _) = _uploads.PrepareStaged(Repository, session.Id);
        await File.WriteAllBytesAsync(path!, [3, 4]);
        var size = await _uploads.AppendStagedAsync(Repository, session.Id, 2, 2, name, whole, chunkOnly, CancellationToken.None);
        Assert.Equal(4, size);
        Assert.Equal(4, _metadata.GetLinkedSize(Repository, whole.Value));
    }

    [Fact]
    public async Task Complete_AfterRestart_RehashesFromStorageAndCommits()
    {
        byte[] content = [1, 2, 3, 4, 5];
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        await _uploads.AppendAsync(Repository, session.Id, 0, content.Length, Chunks(content), CancellationToken.None);
        var digest = Digest.Compute(DigestAlgorithm.Sha256, content);

        // A new manager has no running hash: the digest must come from the stored bytes.
        var restarted = NewManager();
        await restarted.CompleteAsync(Repository, session.Id, digest, CancellationToken.None);

        Assert.Equal(content.Length, _metadata.GetLinkedSize(Repository, digest.Value));
        Assert.Equal(content.Length, await _storage.GetSizeAsync(BlobPaths.Blob(digest.Value), CancellationToken.None));
        Assert.Null(await _storage.GetSizeAsync(BlobPaths.UploadData(session.Id), CancellationToken.None));
    }

    [Fact]
    public async Task Complete_Sha512AfterSha256Announcement_VerifiesWithSha512()
    {
        byte[] content = [7, 7, 7];
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        await _uploads.AppendAsync(Repository, session.Id, -1, -1, Chunks(content), CancellationToken.None);
        var digest = Digest.Compute(DigestAlgorithm.Sha512, content);

        await _uploads.CompleteAsync(Repository, session.Id, digest, CancellationToken.None);

        Assert.Equal(content.Length, _metadata.GetLinkedSize(Repository, digest.Value));
    }

    [Fact]
    public async Task Get_OtherRepository_IsBlobUploadUnknown()
    {
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);

        var error = Assert.Throws<OciException>(() => _uploads.Get("other/repo", session.Id));

        Assert.Equal(OciErrorCode.BlobUploadUnknown, error.Code);
    }

    [Fact]
    public async Task Purger_StaleSessionsAndOrphanFolders_AreDeleted_FreshOnesStay()
    {
        var options = Options.Create(new BlobServiceOptions { UploadMaxAge = TimeSpan.FromHours(1) });
        var purger = new UploadPurger(_uploads, _metadata, options, _time, NullLogger<UploadPurger>.Instance);
        var stale = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        _time.Now += TimeSpan.FromHours(2);
        var fresh = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        var orphan = Guid.NewGuid().ToString("N");
        Directory.CreateDirectory(Path.Combine(_root.Path, BlobPaths.UploadFolder(orphan)));

        var purged = await purger.PurgeOnceAsync(CancellationToken.None);

        Assert.Equal(2, purged);
        Assert.Throws<OciException>(() => _uploads.Get(Repository, stale.Id));
        Assert.False(Directory.Exists(Path.Combine(_root.Path, BlobPaths.UploadFolder(stale.Id))));
        Assert.False(Directory.Exists(Path.Combine(_root.Path, BlobPaths.UploadFolder(orphan))));
        Assert.Equal(0, _uploads.Get(Repository, fresh.Id).Size);
    }

    [Fact]
    public async Task Purger_DisposedWithoutBeingStopped_EndsWithoutAFault()
    {
        // A host that fails to start (its port already taken) disposes its services without stopping them; the
        // purger must then end quietly, or the host logs a failed background service as the reason it stops.
        var options = Options.Create(new BlobServiceOptions { UploadMaxAge = TimeSpan.FromHours(1), PurgeInterval = TimeSpan.FromHours(1) });
        var purger = new UploadPurger(_uploads, _metadata, options, _time, NullLogger<UploadPurger>.Instance);
        var stale = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        _time.Now += TimeSpan.FromHours(2);
        await purger.StartAsync(CancellationToken.None);
        var running = purger.ExecuteTask;
        Assert.NotNull(running);

        // Its first pass has run (the stale session is gone): it now waits for the next tick.
        for (var i = 0; i < 300 && _metadata.ListStaleUploads(_time.GetUtcNow(), 1).Count > 0; i++)
        {
            await Task.Delay(10);
        }

        Assert.Throws<OciException>(() => _uploads.Get(Repository, stale.Id));
        purger.Dispose();
        await running.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(TaskStatus.RanToCompletion, running.Status);
    }

    [Fact]
    public async Task Purger_ChunkFilesLeftInALiveSession_GoOnceOld_FreshOnesAndTheDataStay()
    {
        // The clock jumps to the files' real times below: sessions must not age out meanwhile.
        var options = Options.Create(new BlobServiceOptions { UploadMaxAge = TimeSpan.FromDays(3650) });
        var purger = new UploadPurger(_uploads, _metadata, options, _time, NullLogger<UploadPurger>.Instance);
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        Assert.Equal(3, await _uploads.AppendAsync(Repository, session.Id, 0, 3, Chunks([1, 2, 3]), CancellationToken.None));
        var folder = Path.Combine(_root.Path, BlobPaths.UploadFolder(session.Id));
        var left = Path.Combine(folder, "chunk-" + Guid.NewGuid().ToString("N"));
        var writing = Path.Combine(folder, "chunk-" + Guid.NewGuid().ToString("N"));
        var notOurs = Path.Combine(folder, "chunk-notahexname");
        foreach (var path in new[] { left, writing, notOurs })
        {
            await File.WriteAllBytesAsync(path, [9, 9]);
        }

        // The purger's clock reads two hours after the left file was last written, and minutes after the other.
        _time.Now = new DateTimeOffset(File.GetLastWriteTimeUtc(writing), TimeSpan.Zero) + TimeSpan.FromMinutes(5);
        File.SetLastWriteTimeUtc(left, _time.Now.UtcDateTime - TimeSpan.FromHours(2));
        File.SetLastWriteTimeUtc(notOurs, _time.Now.UtcDateTime - TimeSpan.FromHours(2));

        Assert.Equal(1, await purger.PurgeOnceAsync(CancellationToken.None));

        Assert.False(File.Exists(left));
        Assert.True(File.Exists(writing));
        Assert.True(File.Exists(notOurs));
        Assert.Equal(3, _uploads.Get(Repository, session.Id).Size);
        Assert.Equal(3, new FileInfo(Path.Combine(folder, "data")).Length);
    }

    [Fact]
    public async Task AtTheSessionCap_ANewUploadIsRefusedWithRetryAfter_UntilASessionEnds()
    {
        var uploads = NewManager(new BlobServiceOptions { MaxOpenUploads = 3 });
        var open = new List<UploadSession>();
        for (var i = 0; i < 3; i++)
        {
            open.Add(await uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None));
        }

        // All three are fresh: none may be ended to make room.
        var refused = await Assert.ThrowsAsync<OciException>(() => uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None));
        Assert.Equal(OciErrorCode.TooManyRequests, refused.Code);
        Assert.NotNull(refused.RetryAfter);
        Assert.Equal(3, _metadata.OpenUploads);
        Assert.Equal(3, _metadata.CountUploads());
        Assert.Equal(3, Directory.GetDirectories(Path.Combine(_root.Path, BlobPaths.UploadsRoot)).Length);

        // A session that ends (cancelled, or completed as a blob) makes room.
        await uploads.CancelAsync(Repository, open[0].Id, CancellationToken.None);
        Assert.Equal(2, _metadata.OpenUploads);
        var next = await uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        await uploads.AppendAsync(Repository, next.Id, 0, 3, Chunks([1, 2, 3]), CancellationToken.None);
        await uploads.CompleteAsync(Repository, next.Id, Digest.Compute(DigestAlgorithm.Sha256, [1, 2, 3]), CancellationToken.None);
        Assert.Equal(2, _metadata.OpenUploads);
        Assert.Equal(2, _metadata.CountUploads());
    }

    [Fact]
    public async Task AtTheSessionCap_IdleSessionsEndToMakeRoom_NeverOneBeingWrittenTo()
    {
        var uploads = NewManager(new BlobServiceOptions { MaxOpenUploads = 3, UploadReclaimIdle = TimeSpan.FromMinutes(10) });
        var idle = await uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        var streaming = await uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        var staging = await uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);

        // One session is in the middle of a streamed append (it holds the session's lock); an edge writes
        // a body into another's folder (a chunk file written lately, no lock yet).
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = uploads.AppendAsync(Repository, streaming.Id, 0, 4, StalledChunks([1, 2], [3, 4], release.Task), CancellationToken.None);
        var chunk = Path.Combine(_root.Path, BlobPaths.UploadFolder(staging.Id), "chunk-" + Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(chunk, [5, 5]);

        // Eleven minutes later all three look idle in the database.
        _time.Now = new DateTimeOffset(File.GetLastWriteTimeUtc(chunk), TimeSpan.Zero) + TimeSpan.FromMinutes(11);
        File.SetLastWriteTimeUtc(chunk, _time.Now.UtcDateTime - TimeSpan.FromMinutes(1));

        var fresh = await uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        Assert.Throws<OciException>(() => uploads.Get(Repository, idle.Id));
        Assert.False(Directory.Exists(Path.Combine(_root.Path, BlobPaths.UploadFolder(idle.Id))));
        Assert.Equal(0, uploads.Get(Repository, staging.Id).Size);
        Assert.True(File.Exists(chunk));
        Assert.Equal(3, _metadata.OpenUploads);

        // Nothing else may go: the next POST is refused, and the writers finish as if nothing happened.
        var refused = await Assert.ThrowsAsync<OciException>(() => uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None));
        Assert.Equal(OciErrorCode.TooManyRequests, refused.Code);
        release.SetResult();
        Assert.Equal(4, await slow.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(4, uploads.Get(Repository, streaming.Id).Size);
        Assert.Equal(0, uploads.Get(Repository, fresh.Id).Size);
    }

    [Fact]
    public async Task ASessionBeingWrittenTo_IsNotWaitedFor_ByCancelCompleteOrThePurger()
    {
        var session = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var slow = _uploads.AppendAsync(Repository, session.Id, 0, 4, StalledChunks([1, 2], [3, 4], release.Task), CancellationToken.None);

        var cancel = await Assert.ThrowsAsync<OciException>(() =>
            _uploads.CancelAsync(Repository, session.Id, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(OciErrorCode.BlobUploadInvalid, cancel.Code);
        Assert.Equal(409, cancel.HttpStatus);
        var complete = await Assert.ThrowsAsync<OciException>(() =>
            _uploads.CompleteAsync(Repository, session.Id, Digest.Compute(DigestAlgorithm.Sha256, [1, 2, 3, 4]), CancellationToken.None)
                .WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(416, complete.HttpStatus);

        // Stale by its record, but written to: the purger passes it by and its pass ends.
        _time.Now += TimeSpan.FromDays(2);
        var purger = new UploadPurger(_uploads, _metadata, Options.Create(new BlobServiceOptions()), _time, NullLogger<UploadPurger>.Instance);
        Assert.Equal(0, await purger.PurgeOnceAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(30)));

        release.SetResult();
        Assert.Equal(4, await slow.WaitAsync(TimeSpan.FromSeconds(30)));
        await _uploads.CancelAsync(Repository, session.Id, CancellationToken.None);
        Assert.Throws<OciException>(() => _uploads.Get(Repository, session.Id));
    }

    [Fact]
    public async Task ConcurrentStartsAtTheCap_NeverOvershootIt()
    {
        var uploads = NewManager(new BlobServiceOptions { MaxOpenUploads = 10 });
        var starts = Enumerable.Range(0, 60)
            .Select(_ => Task.Run(() => uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None)))
            .ToArray();
        var started = 0;
        var refused = 0;
        foreach (var start in starts)
        {
            try
            {
                await start.WaitAsync(TimeSpan.FromSeconds(30));
                started++;
            }
            catch (OciException ex) when (ex.Code == OciErrorCode.TooManyRequests)
            {
                refused++;
            }
        }

        Assert.Equal(10, started);
        Assert.Equal(50, refused);
        Assert.Equal(10, _metadata.OpenUploads);
        Assert.Equal(10, _metadata.CountUploads());
    }

    [Fact]
    public async Task OpenUploadCount_FollowsTheTable_AndARecountRepairsIt()
    {
        var first = await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        await _uploads.StartAsync(Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        Assert.Equal(2, _metadata.OpenUploads);
        await _uploads.CancelAsync(Repository, first.Id, CancellationToken.None);
        await Assert.ThrowsAsync<OciException>(() => _uploads.CancelAsync(Repository, first.Id, CancellationToken.None));
        Assert.Equal(1, _metadata.OpenUploads);

        // A second store over the same database starts from the table's count.
        var reopened = new BlobMetadataStore(Path.Combine(_root.Path, "blobs.db"), _time);
        Assert.Equal(1, reopened.OpenUploads);
        Assert.True(reopened.TryReserveUpload(cap: 0));
        await reopened.CreateUploadAsync(Guid.NewGuid().ToString("N"), Repository, DigestAlgorithm.Sha256, CancellationToken.None);
        Assert.Equal(2, reopened.OpenUploads);
        Assert.Equal(1, _metadata.OpenUploads);
        _metadata.RecountUploads();
        Assert.Equal(2, _metadata.OpenUploads);
    }

    private UploadManager NewManager(BlobServiceOptions? options = null) =>
        new(_storage, _metadata, Options.Create(options ?? new BlobServiceOptions()), _time, NullLogger<UploadManager>.Instance);

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> Chunks(byte[] content)
    {
        await Task.Yield();
        yield return content;
    }

    private static async IAsyncEnumerable<ReadOnlyMemory<byte>> FailingChunks(
        byte[] content,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        yield return content;
        throw new IOException("the client went away");
    }
}
