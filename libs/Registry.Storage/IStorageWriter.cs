namespace Registry.Storage;

/// <summary>Appends bytes to one object. Dispose without <see cref="CommitAsync"/> discards what this writer appended.</summary>
public interface IStorageWriter : IAsyncDisposable
{
    /// <summary>The object's size including the bytes written so far.</summary>
    long Size { get; }

    /// <summary>Appends bytes.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>
    /// Keeps the appended bytes: after it returns they survive a crash of the process. They are made durable
    /// against a power cut when the object is moved into place (<see cref="IStorageDriver.MoveAsync"/>).
    /// </summary>
    ValueTask CommitAsync(CancellationToken cancellationToken);
}
