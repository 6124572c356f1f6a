namespace Registry.Storage;

/// <summary>Appends bytes to one object. Dispose without <see cref="CommitAsync"/> discards what this writer appended.</summary>
public interface IStorageWriter : IAsyncDisposable
{
    /// <summary>The object's size including the bytes written so far.</summary>
    long Size { get; }

    /// <summary>Appends bytes.</summary>
    ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>Makes the appended bytes durable; after it returns they survive a crash.</summary>
    ValueTask CommitAsync(CancellationToken cancellationToken);
}
