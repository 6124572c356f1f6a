namespace Registry.Storage.Filesystem;

/// <summary>
/// Stores objects as files below a root folder. Writes go through <see cref="FileStream"/> with
/// asynchronous I/O; moves are atomic renames within one filesystem.
/// </summary>
public sealed class FilesystemDriver : IStorageDriver
{
    private readonly string _root;
    private readonly int _bufferSize;

    public FilesystemDriver(FilesystemDriverOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.RootDirectory);
        _root = Path.GetFullPath(options.RootDirectory);
        _bufferSize = options.BufferSize;
        Directory.CreateDirectory(_root);
    }

    /// <inheritdoc />
    public string Name => "filesystem";

    /// <inheritdoc />
    public ValueTask<long?> GetSizeAsync(string path, CancellationToken cancellationToken)
    {
        var info = new FileInfo(FullPath(path));
        return ValueTask.FromResult(info.Exists ? info.Length : (long?)null);
    }

    /// <inheritdoc />
    public ValueTask<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
    {
        try
        {
            var stream = new FileStream(FullPath(path), new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.Read | FileShare.Delete,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
                BufferSize = 0,
            });
            if (offset > 0)
            {
                stream.Seek(offset, SeekOrigin.Begin);
            }

            return ValueTask.FromResult<Stream>(stream);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StorageNotFoundException(Name, path);
        }
    }

    /// <inheritdoc />
    public ValueTask<IStorageWriter> OpenWriterAsync(string path, long resumeAt, CancellationToken cancellationToken)
    {
        var fullPath = FullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(fullPath)!);
        FileStream stream;
        try
        {
            stream = new FileStream(fullPath, new FileStreamOptions
            {
                // Resuming needs the bytes already acknowledged: a missing file is not silently recreated.
                Mode = resumeAt > 0 ? FileMode.Open : FileMode.OpenOrCreate,
                Access = FileAccess.ReadWrite,
                Share = FileShare.Read,
                Options = FileOptions.Asynchronous,
                BufferSize = 0,
            });
        }
        catch (FileNotFoundException)
        {
            throw new StorageNotFoundException(Name, path);
        }

        try
        {
            if (stream.Length < resumeAt)
            {
                // The acknowledged bytes are gone (storage lost them): nothing to resume from.
                throw new StorageNotFoundException(Name, path);
            }

            // Bytes past resumeAt were written by a call that failed or crashed before it was acknowledged.
            stream.SetLength(resumeAt);
            stream.Seek(resumeAt, SeekOrigin.Begin);
            return ValueTask.FromResult<IStorageWriter>(new FileWriter(stream, resumeAt));
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public ValueTask MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        var source = FullPath(sourcePath);
        var destination = FullPath(destinationPath);
        if (!File.Exists(source))
        {
            throw new StorageNotFoundException(Name, sourcePath);
        }

        if (File.Exists(destination))
        {
            // Content-addressed: the same path always holds the same bytes.
            File.Delete(source);
            return ValueTask.CompletedTask;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(destination)!);

        // The bytes reach the disk before the name does, so no crash can show a blob with missing content.
        using (var handle = File.OpenHandle(source, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            RandomAccess.FlushToDisk(handle);
        }

        try
        {
            File.Move(source, destination, overwrite: false);
        }
        catch (IOException) when (File.Exists(destination))
        {
            // Another commit of the same content won the race.
            File.Delete(source);
        }

        // The rename lives in the folder's entry: flush the folder so the move survives a power cut.
        SyncDirectory(Path.GetDirectoryName(destination)!);
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask ReplaceAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        try
        {
            // rename(2): the destination's old bytes go and the new ones take its name in one step.
            File.Move(FullPath(sourcePath), FullPath(destinationPath), overwrite: true);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new StorageNotFoundException(Name, sourcePath);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask DeleteAsync(string path, CancellationToken cancellationToken)
    {
        var fullPath = FullPath(path);
        if (Directory.Exists(fullPath))
        {
            Directory.Delete(fullPath, recursive: true);
        }
        else if (File.Exists(fullPath))
        {
            File.Delete(fullPath);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<string> ListAsync(
        string folder,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var fullPath = FullPath(folder);
        if (!Directory.Exists(fullPath))
        {
            yield break;
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(fullPath))
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return Path.GetFileName(entry);
        }

        await Task.CompletedTask;
    }

    /// <inheritdoc />
    public string? GetLocalPath(string path) => FullPath(path);

    /// <summary>
    /// I/O errors a network filesystem gives while it recovers: EINTR, EIO, EAGAIN, ETIMEDOUT, ESTALE
    /// (the runtime puts the errno in the exception's HResult).
    /// </summary>
    public bool IsTransient(Exception exception) =>
        exception is IOException { HResult: 4 or 5 or 11 or 110 or 116 } and not FileNotFoundException and not DirectoryNotFoundException;

    private string FullPath(string path)
    {
        if (path.Length == 0 || path[0] == '/' || path.Contains("..", StringComparison.Ordinal) || path.Contains('\\'))
        {
            throw new ArgumentException($"invalid storage path '{path}'", nameof(path));
        }

        return Path.Join(_root, path);
    }

    private sealed class FileWriter : IStorageWriter
    {
        private readonly FileStream _stream;
        private readonly long _start;
        private bool _committed;

        public FileWriter(FileStream stream, long start)
        {
            _stream = stream;
            _start = start;
            Size = start;
        }

        public long Size { get; private set; }

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            _committed = false;
            await _stream.WriteAsync(data, cancellationToken);
            Size += data.Length;
        }

        public ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            // Written through (no buffer): the bytes are in the page cache, safe from a process crash.
            // MoveAsync flushes them to disk before they become a blob; their write-out starts now.
            _stream.Flush(flushToDisk: false);
            _ = Writeback.Start(_stream.SafeFileHandle);
            _committed = true;
            return ValueTask.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            try
            {
                if (!_committed)
                {
                    // Whatever this writer appended was never acknowledged: take it back.
                    _stream.SetLength(_start);
                }
            }
            finally
            {
                _stream.Dispose();
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>fsync on a folder (Linux, macOS); elsewhere a no-op, as .NET cannot open folders for flushing.</summary>
    private static void SyncDirectory(string directory)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS())
        {
            return;
        }

        var fd = NativeMethods.Open(directory, NativeMethods.ReadOnlyDirectory);
        if (fd < 0)
        {
            throw new IOException($"cannot open folder '{directory}' to flush it (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
        }

        try
        {
            if (NativeMethods.Fsync(fd) != 0)
            {
                throw new IOException($"cannot flush folder '{directory}' (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
            }
        }
        finally
        {
            _ = NativeMethods.Close(fd);
        }
    }

}
