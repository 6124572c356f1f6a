using Microsoft.Data.Sqlite;
using Registry.Hosting.Sqlite;
using Registry.Oci.Manifests;
using Registry.Protos;

namespace Registry.Manifest.Metadata;

/// <summary>
/// The manifest service's database. Manifests are stored with their exact bytes; tags, the catalog and
/// referrers are indexed queries, never storage walks. manifest_references records every blob and child
/// manifest a manifest holds on to, which is what garbage collection will walk.
/// </summary>
internal sealed class ManifestMetadataStore
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS repositories (
            name TEXT NOT NULL PRIMARY KEY,
            created_at INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS manifests (
            id INTEGER PRIMARY KEY,
            repository TEXT NOT NULL,
            digest TEXT NOT NULL,
            media_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            content BLOB NOT NULL,
            subject TEXT,
            artifact_type TEXT,
            annotations TEXT,
            created_at INTEGER NOT NULL,
            UNIQUE (repository, digest)
        );
        CREATE INDEX IF NOT EXISTS manifests_by_subject ON manifests(repository, subject) WHERE subject IS NOT NULL;
        CREATE TABLE IF NOT EXISTS tags (
            repository TEXT NOT NULL,
            tag TEXT NOT NULL,
            digest TEXT NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (repository, tag)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS tags_by_digest ON tags(repository, digest);
        CREATE TABLE IF NOT EXISTS manifest_references (
            repository TEXT NOT NULL,
            manifest TEXT NOT NULL,
            reference TEXT NOT NULL,
            kind TEXT NOT NULL,
            PRIMARY KEY (repository, manifest, reference)
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS manifest_references_by_reference ON manifest_references(reference);
        """;

    private readonly SqliteDatabase _database;
    private readonly TimeProvider _time;

    public ManifestMetadataStore(string path, TimeProvider time, ILogger? logger = null)
    {
        _database = new SqliteDatabase(path, Schema, logger);
        _time = time;
    }

    /// <summary>Reads a manifest by digest or tag; null when absent.</summary>
    public StoredManifest? Get(string repository, string reference, bool isDigest, bool metadataOnly)
    {
        var columns = metadataOnly ? "m.digest, m.media_type, m.size" : "m.digest, m.media_type, m.size, m.content";
        var sql = isDigest
            ? $"SELECT {columns} FROM manifests m WHERE m.repository = $r AND m.digest = $ref"
            : $"SELECT {columns} FROM tags t JOIN manifests m ON m.repository = t.repository AND m.digest = t.digest WHERE t.repository = $r AND t.tag = $ref";
        using var connection = _database.Open();
        using var command = connection.Command(sql).With("$r", repository).With("$ref", reference);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
        {
            return null;
        }

        var content = metadataOnly ? [] : (byte[])reader.GetValue(3);
        return new StoredManifest(reader.GetString(0), reader.GetString(1), reader.GetInt64(2), content);
    }

    /// <summary>The size of each manifest, in the order asked; -1 for one the repository does not hold.</summary>
    public List<long> ManifestSizes(string repository, IEnumerable<string> digests)
    {
        var sizes = new List<long>();
        using var connection = _database.Open();
        using var command = connection.Command("SELECT size FROM manifests WHERE repository = $r AND digest = $d")
            .With("$r", repository).With("$d", string.Empty);
        foreach (var digest in digests)
        {
            command.Parameters["$d"].Value = digest;
            sizes.Add(command.ExecuteScalar() is long size ? size : -1);
        }

        return sizes;
    }

    /// <summary>Stores a manifest, what it references, and points the tags at it, in one transaction.</summary>
    public Task PutAsync(string repository, ParsedManifest manifest, byte[] content, IReadOnlyCollection<string> tags, CancellationToken cancellationToken) => _database.WriteAsync((connection, transaction) =>
        {
            var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var digest = manifest.Digest.Value;
            Execute(connection, transaction, "INSERT OR IGNORE INTO repositories (name, created_at) VALUES ($r, $t)",
                ("$r", repository), ("$t", now));
            Execute(connection, transaction, """
                INSERT OR IGNORE INTO manifests (repository, digest, media_type, size, content, subject, artifact_type, annotations, created_at)
                VALUES ($r, $d, $mt, $s, $c, $sub, $at, $an, $t)
                """,
                ("$r", repository), ("$d", digest), ("$mt", manifest.MediaType), ("$s", (long)content.Length), ("$c", content),
                ("$sub", manifest.Subject?.Digest.Value), ("$at", manifest.ArtifactType), ("$an", manifest.AnnotationsJson), ("$t", now));
            using (var reference = connection.Command(
                "INSERT OR IGNORE INTO manifest_references (repository, manifest, reference, kind) VALUES ($r, $m, $ref, $k)", transaction)
                .With("$r", repository).With("$m", digest).With("$ref", string.Empty).With("$k", string.Empty))
            {
                foreach (var (target, kind) in References(manifest))
                {
                    reference.Parameters["$ref"].Value = target;
                    reference.Parameters["$k"].Value = kind;
                    reference.ExecuteNonQuery();
                }
            }

            foreach (var tag in tags)
            {
                Execute(connection, transaction, """
                    INSERT INTO tags (repository, tag, digest, updated_at) VALUES ($r, $tag, $d, $t)
                    ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at
                    """,
                    ("$r", repository), ("$tag", tag), ("$d", digest), ("$t", now));
            }

            return 0;
        }, cancellationToken);

    /// <summary>Deletes a manifest and every tag pointing at it. Returns false when it did not exist.</summary>
    public Task<bool> DeleteManifestAsync(string repository, string digest, CancellationToken cancellationToken) => _database.WriteAsync((connection, transaction) =>
    {
        var deleted = Execute(connection, transaction, "DELETE FROM manifests WHERE repository = $r AND digest = $d",
            ("$r", repository), ("$d", digest));
        if (deleted == 0)
        {
            return false;
        }

        Execute(connection, transaction, "DELETE FROM tags WHERE repository = $r AND digest = $d", ("$r", repository), ("$d", digest));
        Execute(connection, transaction, "DELETE FROM manifest_references WHERE repository = $r AND manifest = $d",
            ("$r", repository), ("$d", digest));
        // The repository itself stays, as in distribution: its tag list is then empty, not unknown.
        return true;
    }, cancellationToken);

    /// <summary>Deletes one tag. Returns false when it did not exist.</summary>
    public Task<bool> DeleteTagAsync(string repository, string tag, CancellationToken cancellationToken) => _database.WriteAsync((connection, transaction) =>
        Execute(connection, transaction, "DELETE FROM tags WHERE repository = $r AND tag = $tag", ("$r", repository), ("$tag", tag)) > 0, cancellationToken);

    /// <summary>True when a manifest was ever pushed to the repository.</summary>
    public bool RepositoryExists(string repository)
    {
        using var connection = _database.Open();
        using var command = connection.Command("SELECT 1 FROM repositories WHERE name = $r").With("$r", repository);
        return command.ExecuteScalar() is not null;
    }

    /// <summary>One page of a repository's tags after <paramref name="last"/>, in byte order; one extra row tells whether more follow.</summary>
    public (List<string> Names, bool More) ListTags(string repository, string last, int limit) =>
        Page("SELECT tag FROM tags WHERE repository = $r AND tag > $last ORDER BY tag LIMIT $n", repository, last, limit);

    /// <summary>One page of repository names after <paramref name="last"/>.</summary>
    public (List<string> Names, bool More) ListRepositories(string last, int limit) =>
        Page("SELECT name FROM repositories WHERE name > $last ORDER BY name LIMIT $n", null, last, limit);

    /// <summary>
    /// One page of the manifests whose subject is <paramref name="subject"/>, optionally of one artifact
    /// type, in digest order after <paramref name="last"/>: at most <paramref name="maxCount"/> of them and,
    /// past the first, no more than <paramref name="maxBytes"/> as encoded for gRPC.
    /// </summary>
    public (List<ContentDescriptor> Page, bool More) ListReferrers(
        string repository, string subject, string? artifactType, string last, int maxCount, long maxBytes)
    {
        var sql = "SELECT digest, media_type, size, artifact_type, annotations FROM manifests WHERE repository = $r AND subject = $s AND digest > $last"
            + (artifactType is null ? string.Empty : " AND artifact_type = $a") + " ORDER BY digest LIMIT $n";
        using var connection = _database.Open();
        using var command = connection.Command(sql).With("$r", repository).With("$s", subject).With("$last", last).With("$n", maxCount + 1);
        if (artifactType is not null)
        {
            command.With("$a", artifactType);
        }

        var page = new List<ContentDescriptor>();
        long bytes = 0;
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var descriptor = new ContentDescriptor
            {
                Digest = reader.GetString(0),
                MediaType = reader.GetString(1),
                Size = reader.GetInt64(2),
                ArtifactType = reader.IsDBNull(3) ? string.Empty : reader.GetString(3),
                AnnotationsJson = reader.IsDBNull(4) ? string.Empty : reader.GetString(4),
            };
            // What the descriptor takes in the gRPC message (UTF-8 bytes, not characters: annotations in
            // CJK take three bytes a character).
            bytes += descriptor.CalculateSize();
            if (page.Count == maxCount || (page.Count > 0 && bytes > maxBytes))
            {
                return (page, true);
            }

            page.Add(descriptor);
        }

        return (page, false);
    }

    private (List<string> Names, bool More) Page(string sql, string? repository, string last, int limit)
    {
        var names = new List<string>(Math.Min(limit, 1024));
        using var connection = _database.Open();
        using var command = connection.Command(sql).With("$last", last).With("$n", limit + 1);
        if (repository is not null)
        {
            command.With("$r", repository);
        }

        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            names.Add(reader.GetString(0));
        }

        var more = names.Count > limit;
        if (more)
        {
            names.RemoveAt(names.Count - 1);
        }

        return (names, more);
    }

    private static IEnumerable<(string Target, string Kind)> References(ParsedManifest manifest)
    {
        foreach (var blob in manifest.Blobs)
        {
            yield return (blob.Digest.Value, "blob");
        }

        foreach (var child in manifest.Children)
        {
            yield return (child.Digest.Value, "manifest");
        }
    }

    private static int Execute(SqliteConnection connection, SqliteTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = connection.Command(sql, transaction);
        foreach (var (name, value) in parameters)
        {
            command.With(name, value);
        }

        return command.ExecuteNonQuery();
    }
}
