namespace Registry.Blob;

/// <summary>Options of the blob service, bound from "Registry:Blob".</summary>
public sealed class BlobServiceOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Registry:Blob";

    /// <summary>
    /// An upload session untouched for this long is purged with its bytes. Default 24 hours
    /// (distribution keeps them for 7 days, which leaves abandoned bytes on disk for a week).
    /// </summary>
    public TimeSpan UploadMaxAge { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Upload sessions open at once, at most. A POST at the cap first ends the stalest sessions idle for
    /// longer than <see cref="UploadReclaimIdle"/> (never one with a request writing to it); when none
    /// is, it is answered 429 TOOMANYREQUESTS with Retry-After. 0 removes the cap. Default 10,000 (each
    /// session is a database row and a folder on disk).
    /// </summary>
    public int MaxOpenUploads { get; set; } = 10_000;

    /// <summary>
    /// At the <see cref="MaxOpenUploads"/> cap, a session untouched for this long may be ended to make
    /// room for a new one (up to 64 of the stalest at once). Default 1 minute: clients send a session's
    /// chunks one right after another, and a client flooding the registry with sessions it never uses
    /// then has to open MaxOpenUploads of them every minute to keep others out.
    /// </summary>
    public TimeSpan UploadReclaimIdle { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How often the purger looks for abandoned sessions. Default 10 minutes.</summary>
    public TimeSpan PurgeInterval { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The size of the chunks ReadBlob streams, in bytes. Default 64 KiB (below the large-object-heap
    /// threshold, so each message the client deserialises is a cheap allocation); at most 1 MiB.
    /// </summary>
    public int ReadChunkSize { get; set; } = 64 * 1024;

    /// <summary>
    /// When true (the default), StatBlob names a local file the caller may read directly, so the
    /// edge can send blob bytes with sendfile instead of streaming them over gRPC.
    /// </summary>
    public bool GrantLocalPaths { get; set; } = true;

    /// <summary>
    /// When true (the default), a session's first chunk, which an edge wrote into the session's folder past
    /// the page cache, is read back for hashing past it too (Linux O_DIRECT, see
    /// Registry.Storage.Filesystem.UncachedFile) where the filesystem allows it; when false, through it.
    /// A first chunk that completes the upload is not read back at all (the edge sends its digest).
    /// </summary>
    public bool UncachedChunkReads { get; set; } = true;

    /// <summary>Checks the options; a bad value stops the process at startup.</summary>
    public void Validate()
    {
        if (UploadMaxAge <= TimeSpan.Zero || PurgeInterval <= TimeSpan.Zero || UploadReclaimIdle <= TimeSpan.Zero)
        {
            throw new InvalidOperationException("Registry:Blob:UploadMaxAge, UploadReclaimIdle and PurgeInterval must be positive.");
        }

        if (MaxOpenUploads < 0)
        {
            throw new InvalidOperationException("Registry:Blob:MaxOpenUploads must be positive (or 0 for no cap).");
        }

        if (ReadChunkSize is < 4096 or > 1024 * 1024)
        {
            throw new InvalidOperationException("Registry:Blob:ReadChunkSize must be between 4 KiB and 1 MiB.");
        }
    }
}
