using System.Buffers;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Registry.EdgeHttp.Observability;
using Registry.EdgeHttp.Pipeline;
using Registry.Oci.Digests;
using Registry.Oci.Errors;
using Registry.Protos;
using Registry.Storage.Filesystem;

namespace Registry.EdgeHttp.Operations;

/// <summary>
/// The fast path of an upload body when the edge shares the blob service's filesystem: the service
/// names a file in the session's folder (PrepareStagedAppend, or for a session this edge started the
/// folder StartUpload named and a chunk name of the agreed form), the edge writes the body into it straight
/// from Kestrel's buffers, and the service appends it under the session's lock (AppendStaged), so the
/// bytes never cross gRPC. The service keeps every check and guarantee of the streamed path; a body
/// that fails or is cut off leaves only the chunk file, which is removed here (or with the session).
/// </summary>
internal static class StagedUploadBody
{
    // pwritev takes at most this many buffers at once (Kestrel's are Registry:Memory:IoBlockBytes each).
    private const int MaxSegmentsPerWrite = 256;

    // The chunk file names the blob service accepts (see UploadStatus.staging_folder in blob.proto).
    private const string ChunkPrefix = "chunk-";

    /// <summary>
    /// Appends the body through a chunk file and returns the session's new size, or null when storage
    /// has no local files (the caller then streams the body over gRPC). With <paramref name="completeWith"/>
    /// the blob service completes the upload in the same call and the size is the blob's.
    /// </summary>
    public static async Task<long?> TryAppendAsync(
        EdgeContext edge,
        OciOperation operation,
        string repository,
        string uploadId,
        long offset,
        long length,
        EdgeOperation kind,
        string? completeWith,
        CancellationToken cancellationToken)
    {
        // A session this edge started names its folder already; otherwise the blob service names the file.
        // A chunk that does not continue the size this edge last saw asks too, so that a chunk bound to
        // fail is refused before its body is read.
        var known = edge.StagingFolders.Find(repository, uploadId);
        var folder = known is { } k && (offset < 0 || offset == k.Size) ? k.Folder : null;
        string path, name;
        long sessionSize;
        if (folder is not null)
        {
            name = ChunkPrefix + Guid.NewGuid().ToString("N");
            path = Path.Join(folder, name);
            sessionSize = known!.Value.Size;
        }
        else
        {
            var staged = await UploadOperation.CallAsync(edge.Clients.Blobs.PrepareStagedAppendAsync(
                new UploadRef { Repository = repository, UploadId = uploadId }, edge.Clients.Unary(cancellationToken)));
            if (staged.Path.Length == 0)
            {
                return null;
            }

            if (offset >= 0 && offset != staged.Size)
            {
                // The service checks again under the session's lock; this spares writing a chunk bound to fail.
                throw OciException.ChunkDoesNotContinue(offset, staged.Size);
            }

            (path, name, sessionSize) = (staged.Path, staged.Name, staged.Size);
        }

        SafeFileHandle? file = null;
        UncachedWriter? uncached = null;
        try
        {
            // TODO: the file gets this process's user and umask; a blob service running as another user on a shared volume must be able to read and rename it.
            // Only a session's first chunk: it stays as the data file or the blob. Later chunks are copied
            // and deleted at once, so their cached pages are recycled soon (see UncachedFile).
            uncached = edge.Options.UncachedUploadWrites && sessionSize == 0 ? UncachedFile.TryCreate(path) : null;
            if (uncached is null)
            {
                file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            }
        }
        catch (DirectoryNotFoundException) when (folder is not null)
        {
            // The session ended (completed, cancelled, purged): ask the blob service, which says how.
            edge.StagingFolders.Forget(uploadId);
            return await TryAppendAsync(edge, operation, repository, uploadId, offset, length, kind, completeWith, cancellationToken);
        }
        catch (DirectoryNotFoundException)
        {
            // Not this edge's filesystem (a service elsewhere), or the session ended a moment ago: the
            // streamed path tells the two apart, and nothing of the body has been read yet.
            return null;
        }

        try
        {
            string? written = null;
            if (uncached is not null)
            {
                // A chunk that is the whole blob is hashed on its way to disk, so the blob service need not read it back.
                Digest? wanted = completeWith is not null && Digest.TryParse(completeWith, out var parsed) ? parsed : null;
                using var hash = wanted?.Algorithm.CreateHash();
                using (uncached)
                {
                    await CopyBodyAsync(edge, operation, new UncachedSink(uncached, hash), kind, cancellationToken);
                }

                written = wanted is { } digest && hash is not null ? Digest.FromHash(digest.Algorithm, hash).ToString() : null;
            }
            else
            {
                // The first chunk of a session becomes its data file (or, closing it, the blob) as it is, and
                // the blob service flushes it before a blob is acknowledged: its write-out starts now. Later
                // chunks are copied and deleted, so writing them out would be wasted.
                using (file)
                {
                    await CopyBodyAsync(edge, operation, new CachedSink(file!, startWriteback: sessionSize == 0), kind, cancellationToken);
                }
            }

            var status = await UploadOperation.CallAsync(edge.Clients.Blobs.AppendStagedAsync(
                new AppendStagedRequest
                {
                    Repository = repository, UploadId = uploadId, Offset = offset, Length = length, Name = name,
                    CompleteDigest = completeWith ?? string.Empty,
                    WrittenDigest = written ?? string.Empty,
                },
                edge.Clients.Unary(cancellationToken)));
            if (completeWith is not null)
            {
                edge.StagingFolders.Forget(uploadId);
            }
            else
            {
                edge.StagingFolders.UpdateSize(uploadId, status.Size);
            }

            return status.Size;
        }
        catch (OciException ex) when (ex.Code == OciErrorCode.BlobUploadUnknown)
        {
            edge.StagingFolders.Forget(uploadId);
            throw;
        }
        finally
        {
            // Gone already when the service took it; otherwise the body never became part of the session.
            TryDelete(path);
        }
    }

    // Reads the body as it arrives and hands each piece to the sink, which writes it.
    private static async Task CopyBodyAsync(
        EdgeContext edge, OciOperation operation, IBodySink sink, EdgeOperation kind, CancellationToken cancellationToken)
    {
        var reader = operation.Context.Request.BodyReader;
        while (true)
        {
            var result = await UploadBody.ReadGuardedAsync(operation, static (r, ct) => r.ReadAsync(ct), reader, cancellationToken);
            if (result.IsCanceled)
            {
                // The upload stage cut the body off (too slow while others wait); what was read stays unused.
                reader.AdvanceTo(result.Buffer.Start);
                throw new OperationCanceledException("the request body was cut off");
            }

            var buffer = result.Buffer;
            var length = buffer.Length;
            try
            {
                sink.Take(buffer);
            }
            finally
            {
                // Also when the write failed (a full disk): a read left open keeps Kestrel from draining the
                // rest of the body after the answer ("Reading is already in progress").
                reader.AdvanceTo(buffer.End);
            }

            EdgeMetrics.AddBytesIn(kind, length);
            operation.AddBodyBytes(length);
            edge.MarkProgress();
            if (result.IsCompleted)
            {
                operation.StopWatchingBody();
                sink.Complete();
                return;
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    private interface IBodySink
    {
        /// <summary>Writes these bytes (Kestrel's buffers: they are not kept).</summary>
        void Take(in ReadOnlySequence<byte> bytes);

        /// <summary>The body has ended.</summary>
        void Complete();
    }

    // Into the page cache, on this thread: a hop to the thread pool per write costs more than the copy.
    private sealed class CachedSink(SafeFileHandle file, bool startWriteback) : IBodySink
    {
        private readonly List<ReadOnlyMemory<byte>> _segments = new(MaxSegmentsPerWrite);
        private long _written;

        public void Take(in ReadOnlySequence<byte> bytes)
        {
            foreach (var segment in bytes)
            {
                _segments.Add(segment);
                if (_segments.Count == MaxSegmentsPerWrite)
                {
                    WriteGathered();
                }
            }

            if (_segments.Count > 0)
            {
                WriteGathered();
            }
        }

        public void Complete()
        {
            if (startWriteback)
            {
                _ = Writeback.Start(file);
            }
        }

        private void WriteGathered()
        {
            RandomAccess.Write(file, _segments, _written);
            foreach (var segment in _segments)
            {
                _written += segment.Length;
            }

            _segments.Clear();
        }
    }

    // Past the page cache: the bytes gather in an aligned buffer that goes to disk whenever it is full, on
    // this thread (the write waits for the disk, which costs the CPU nothing; see UncachedFile).
    private sealed class UncachedSink(UncachedWriter file, IncrementalHash? hash) : IBodySink
    {
        public void Take(in ReadOnlySequence<byte> bytes)
        {
            foreach (var segment in bytes)
            {
                file.Write(segment.Span);
                hash?.AppendData(segment.Span);
            }
        }

        public void Complete() => file.Complete();
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Removed with the session's folder later.
        }
    }
}
