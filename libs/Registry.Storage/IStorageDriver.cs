namespace Registry.Storage;

/// <summary>
/// Where the registry's bytes live. Paths are relative, '/'-separated and never start with '/'.
/// Every method takes the caller's token and passes it to the underlying I/O, so a client that goes
/// away stops the storage call behind it. Writers are invisible at their final path until moved there.
/// </summary>
public interface IStorageDriver
{
    /// <summary>A short name for logs and metrics ("filesystem", "s3", "azure").</summary>
    string Name { get; }

    /// <summary>Returns the size of the object at <paramref name="path"/>, or null when there is none.</summary>
    ValueTask<long?> GetSizeAsync(string path, CancellationToken cancellationToken);

    /// <summary>Opens the object for reading from <paramref name="offset"/>. Throws <see cref="StorageNotFoundException"/>.</summary>
    ValueTask<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken);

    /// <summary>
    /// Opens a writer that appends to the object at <paramref name="path"/> after its first
    /// <paramref name="resumeAt"/> bytes; anything stored beyond them (a write that was never
    /// acknowledged) is discarded. A new object is created when there is none and resumeAt is 0.
    /// </summary>
    ValueTask<IStorageWriter> OpenWriterAsync(string path, long resumeAt, CancellationToken cancellationToken);

    /// <summary>
    /// Moves an object atomically and makes it durable (its bytes and its new name survive a power cut). When the
    /// destination exists already it is left alone and the source removed.
    /// </summary>
    ValueTask MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken);

    /// <summary>
    /// Puts the object at <paramref name="sourcePath"/> in the place of the one at
    /// <paramref name="destinationPath"/> (which may exist), in one step where storage allows. Not made
    /// durable: that is <see cref="MoveAsync"/>'s job when bytes become a blob. Throws
    /// <see cref="StorageNotFoundException"/> when the source is missing.
    /// </summary>
    ValueTask ReplaceAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken);

    /// <summary>Deletes an object or a whole folder of objects; nothing happens when there is none.</summary>
    ValueTask DeleteAsync(string path, CancellationToken cancellationToken);

    /// <summary>Lists the names of the objects and folders directly inside <paramref name="folder"/>; none when it does not exist.</summary>
    IAsyncEnumerable<string> ListAsync(string folder, CancellationToken cancellationToken);

    /// <summary>
    /// A path on the local filesystem from which the caller may read the object directly (the fast
    /// download path), or null when the driver has none.
    /// </summary>
    string? GetLocalPath(string path);

    /// <summary>
    /// Whether a failed call may succeed if made again at once (a dropped connection, a stale network
    /// mount, a throttled request). Callers retry only idempotent calls, and only on these.
    /// </summary>
    bool IsTransient(Exception exception) => false;
}
