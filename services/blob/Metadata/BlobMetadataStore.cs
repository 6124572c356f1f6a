using Registry.Hosting.Sqlite;
using Registry.Oci.Digests;

namespace Registry.Blob.Metadata;

/// <summary>
/// The blob service's database: which blobs exist, which repositories may read them, and upload
/// sessions. Digest and name columns use SQLite's default BINARY collation, so lookups are
/// case-sensitive as digests are. created_at on blobs and links is kept for garbage collection's
/// grace period.
/// </summary>
internal sealed class BlobMetadataStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS blobs (
            digest TEXT NOT NULL PRIMARY KEY,
            size INTEGER NOT NULL,
            created_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS repository_blobs (
            repository TEXT NOT NULL,
            digest TEXT NOT NULL REFERENCES blobs(digest),
            created_at INTEGER NOT NULL,
            PRIMARY KEY (repository, digest)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS repository_blobs_by_digest ON repository_blobs(digest);
        CREATE TABLE IF NOT EXISTS uploads (
            id TEXT NOT NULL PRIMARY KEY,
            repository TEXT NOT NULL,
            algorithm TEXT NOT NULL,
            size INTEGER NOT NULL,
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS uploads_by_age ON uploads(updated_at);
        """;

    private readonly SqliteDatabase _database;
    private readonly TimeProvider _time;

    // Open upload sessions, kept beside the table so a POST need not count rows (see RecountUploads).
    private long _openUploads;

    public BlobMetadataStore(string path, TimeProvider time, ILogger? logger = null)
    {
        _database = new SqliteDatabase(path, Schema, logger);
        _time = time;
        RecountUploads();
    }

    /// <summary>Open upload sessions, as counted beside the table (cheap; see <see cref="CountUploads"/> for the table's own count).</summary>
    public long OpenUploads => Interlocked.Read(ref _openUploads);

    /// <summary>
    /// Counts a session about to be created, unless <paramref name="cap"/> sessions are open already (0:
    /// no cap). Checking and counting in one step keeps concurrent starts from overshooting the cap.
    /// </summary>
    public bool TryReserveUpload(int cap)
    {
        while (true)
        {
            var open = Interlocked.Read(ref _openUploads);
            if (cap > 0 && open >= cap)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _openUploads, open + 1, open) == open)
            {
                return true;
            }
        }
    }

    /// <summary>Takes back a <see cref="TryReserveUpload"/> whose session was not created after all.</summary>
    public void ReleaseUploadReservation() => Interlocked.Decrement(ref _openUploads);

    /// <summary>Sets <see cref="OpenUploads"/> from the table (at startup, and after each purge pass, in case a failed write left it off by a few).</summary>
    public void RecountUploads() => Interlocked.Exchange(ref _openUploads, CountUploads());

    /// <summary>The size of a blob the repository may read, or null.</summary>
    public long? GetLinkedSize(string repository, string digest)
    {
        using var connection = _database.Open();
        using var command = connection.Command(
            "SELECT b.size FROM repository_blobs r JOIN blobs b ON b.digest = r.digest WHERE r.repository = $r AND r.digest = $d")
            .With("$r", repository).With("$d", digest);
        return command.ExecuteScalar() is long size ? size : null;
    }

    /// <summary>The size of each blob, in the order asked; -1 for one the repository may not read.</summary>
    public List<long> Sizes(string repository, IEnumerable<string> digests)
    {
        var sizes = new List<long>();
        using var connection = _database.Open();
        using var command = connection.Command(
            "SELECT b.size FROM repository_blobs r JOIN blobs b ON b.digest = r.digest WHERE r.repository = $r AND r.digest = $d")
            .With("$r", repository).With("$d", string.Empty);
        foreach (var digest in digests)
        {
            command.Parameters["$d"].Value = digest;
            sizes.Add(command.ExecuteScalar() is long size ? size : -1);
        }

        return sizes;
    }

    /// <summary>Makes a blob readable in a repository when the source repository may read it. Returns its size, or null.</summary>
    public Task<long?> MountAsync(string repository, string digest, string fromRepository, CancellationToken cancellationToken) => _database.WriteAsync((connection, transaction) =>
    {
        using var find = connection.Command(
            "SELECT b.size FROM repository_blobs r JOIN blobs b ON b.digest = r.digest WHERE r.repository = $r AND r.digest = $d",
            transaction).With("$r", fromRepository).With("$d", digest);
        if (find.ExecuteScalar() is not long size)
        {
            return (long?)null;
        }

        using var link = connection.Command(
            "INSERT OR IGNORE INTO repository_blobs (repository, digest, created_at) VALUES ($r, $d, $t)", transaction)
            .With("$r", repository).With("$d", digest).With("$t", Now());
        link.ExecuteNonQuery();
        return size;
    }, cancellationToken);

    /// <summary>Removes a repository's link to a blob. Returns false when there was none.</summary>
    public Task<bool> UnlinkAsync(string repository, string digest, CancellationToken cancellationToken) => _database.WriteAsync((connection, transaction) =>
    {
        using var command = connection.Command("DELETE FROM repository_blobs WHERE repository = $r AND digest = $d", transaction)
            .With("$r", repository).With("$d", digest);
        return command.ExecuteNonQuery() > 0;
    }, cancellationToken);

    /// <summary>Records a committed blob, links it to the repository and ends the upload session, in one transaction.</summary>
    public async Task CommitBlobAsync(string digest, long size, string repository, string uploadId, CancellationToken cancellationToken)
    {
        if (await CommitBlobCoreAsync(digest, size, repository, uploadId, cancellationToken) > 0)
        {
            Interlocked.Decrement(ref _openUploads);
        }
    }

    private Task<int> CommitBlobCoreAsync(string digest, long size, string repository, string uploadId, CancellationToken cancellationToken) => _database.WriteAsync((connection, transaction) =>
    {
        var now = Now();
        using (var blob = connection.Command(
            "INSERT OR IGNORE INTO blobs (digest, size, created_at) VALUES ($d, $s, $t)", transaction)
            .With("$d", digest).With("$s", size).With("$t", now))
        {
            blob.ExecuteNonQuery();
        }

        using (var link = connection.Command(
            "INSERT OR IGNORE INTO repository_blobs (repository, digest, created_at) VALUES ($r, $d, $t)", transaction)
            .With("$r", repository).With("$d", digest).With("$t", now))
        {
            link.ExecuteNonQuery();
        }

        using var end = connection.Command("DELETE FROM uploads WHERE id = $id", transaction).With("$id", uploadId);
        return end.ExecuteNonQuery();
    }, cancellationToken);

    /// <summary>Creates an upload session (not flushed to disk: a power cut may forget a fresh session).</summary>
    /// <remarks>The caller counts the session first, with <see cref="TryReserveUpload"/>.</remarks>
    public Task CreateUploadAsync(string id, string repository, DigestAlgorithm algorithm, CancellationToken cancellationToken) => _database.WriteAsync((connection, transaction) =>
    {
        var now = Now();
        using var command = connection.Command(
            "INSERT INTO uploads (id, repository, algorithm, size, created_at, updated_at) VALUES ($id, $r, $a, 0, $t, $t)",
            transaction).With("$id", id).With("$r", repository).With("$a", algorithm.Name()).With("$t", now);
        return command.ExecuteNonQuery();
    }, durable: false, cancellationToken);

    /// <summary>Reads an upload session, or null when there is none.</summary>
    public UploadSession? GetUpload(string id)
    {
        using var connection = _database.Open();
        using var command = connection.Command("SELECT repository, algorithm, size FROM uploads WHERE id = $id").With("$id", id);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        DigestAlgorithms.TryParse(reader.GetString(1), out var algorithm);
        return new UploadSession(id, reader.GetString(0), algorithm, reader.GetInt64(2));
    }

    /// <summary>
    /// Records the acknowledged size of a session. Not flushed to disk: a crash of the process keeps it; after a
    /// power cut the session may resume from an earlier size (never a later one than its bytes on disk).
    /// </summary>
    public Task SetUploadSizeAsync(string id, long size, CancellationToken cancellationToken) => _database.WriteAsync((connection, transaction) =>
    {
        using var command = connection.Command("UPDATE uploads SET size = $s, updated_at = $t WHERE id = $id", transaction)
            .With("$s", size).With("$t", Now()).With("$id", id);
        return command.ExecuteNonQuery();
    }, durable: false, cancellationToken);

    /// <summary>Deletes an upload session. Returns false when there was none.</summary>
    public async Task<bool> DeleteUploadAsync(string id, CancellationToken cancellationToken)
    {
        var deleted = await _database.WriteAsync((connection, transaction) =>
        {
            using var command = connection.Command("DELETE FROM uploads WHERE id = $id", transaction).With("$id", id);
            return command.ExecuteNonQuery() > 0;
        }, durable: true, freesSpace: true, cancellationToken);
        if (deleted)
        {
            Interlocked.Decrement(ref _openUploads);
        }

        return deleted;
    }

    /// <summary>Ids of sessions not touched since <paramref name="before"/>, oldest first, at most <paramref name="limit"/>.</summary>
    public List<string> ListStaleUploads(DateTimeOffset before, int limit)
    {
        var ids = new List<string>();
        using var connection = _database.Open();
        using var command = connection.Command("SELECT id FROM uploads WHERE updated_at < $t ORDER BY updated_at LIMIT $n")
            .With("$t", before.ToUnixTimeMilliseconds()).With("$n", limit);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            ids.Add(reader.GetString(0));
        }

        return ids;
    }

    /// <summary>The number of open upload sessions.</summary>
    public long CountUploads()
    {
        using var connection = _database.Open();
        using var command = connection.Command("SELECT COUNT(*) FROM uploads");
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>How long the least recently touched open upload session has been idle; zero when there is none.</summary>
    public TimeSpan OldestUploadIdle()
    {
        using var connection = _database.Open();
        using var command = connection.Command("SELECT MIN(updated_at) FROM uploads");
        return command.ExecuteScalar() is long oldest ? TimeSpan.FromMilliseconds(Math.Max(0, Now() - oldest)) : TimeSpan.Zero;
    }

    private long Now() => _time.GetUtcNow().ToUnixTimeMilliseconds();
}
