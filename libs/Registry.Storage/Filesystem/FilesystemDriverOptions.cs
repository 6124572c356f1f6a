namespace Registry.Storage.Filesystem;

/// <summary>Options of the filesystem driver.</summary>
public sealed class FilesystemDriverOptions
{
    /// <summary>The folder that holds every object. Required; the host sets it to the data directory.</summary>
    public string RootDirectory { get; set; } = string.Empty;

    /// <summary>Buffer size of file streams, in bytes. Default 64 KiB.</summary>
    public int BufferSize { get; set; } = 64 * 1024;
}
