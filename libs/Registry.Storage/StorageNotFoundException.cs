namespace Registry.Storage;

/// <summary>The object a driver was asked for does not exist.</summary>
public sealed class StorageNotFoundException : Exception
{
    public StorageNotFoundException(string driver, string path)
        : base($"{driver}: no object at '{path}'")
    {
        Path = path;
    }

    /// <summary>The path that was asked for.</summary>
    public string Path { get; }
}
