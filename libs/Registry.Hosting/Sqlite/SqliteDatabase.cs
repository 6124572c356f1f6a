using Microsoft.Data.Sqlite;

namespace Registry.Hosting.Sqlite;

/// <summary>
/// One SQLite database file owned by one service. Connections come from Microsoft.Data.Sqlite's pool;
/// the file runs in WAL mode so readers never wait for the writer, with synchronous=FULL so a commit
/// that was acknowledged survives a power cut. Writes marked not durable (upload session bookkeeping)
/// commit with synchronous=NORMAL: atomic and kept through a crash of the process, only a power cut can
/// take back the last of them.
///
/// Writes are serialised in the process by an async gate before they reach SQLite's own lock, so
/// concurrent writers wait without blocking thread-pool threads (SQLite allows one writer at a time).
/// </summary>
public sealed class SqliteDatabase
{
    private readonly string _connectionString;
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    // Per physical connection (pooled connections keep their handle): whether its settings were applied,
    // and whether its commits are flushed (synchronous=FULL) or not (NORMAL).
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<SQLitePCL.sqlite3, ConnectionState> _states = [];

    public SqliteDatabase(string path, string schema)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;" + schema;
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Opens a pooled connection for reading, with the per-connection settings applied (once per
    /// physical connection: a pooled one keeps them).
    /// </summary>
    public SqliteConnection Open() => Open(durable: null);

    // durable: whether commits must be flushed to disk (synchronous=FULL) or not (NORMAL); null when
    // the caller only reads.
    private SqliteConnection Open(bool? durable)
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        var state = _states.GetOrCreateValue(connection.Handle!);
        string? settings = null;
        if (!state.Initialised)
        {
            settings = "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;";
        }

        var wanted = durable ?? (state.Initialised ? state.Durable : true);
        if (!state.Initialised || state.Durable != wanted)
        {
            settings += wanted ? "PRAGMA synchronous=FULL;" : "PRAGMA synchronous=NORMAL;";
        }

        if (settings is not null)
        {
            using var command = connection.CreateCommand();
            command.CommandText = settings;
            command.ExecuteNonQuery();
            state.Initialised = true;
            state.Durable = wanted;
        }

        return connection;
    }

    /// <summary>Runs <paramref name="work"/> in a write transaction taken at once (BEGIN IMMEDIATE), flushed to disk on commit.</summary>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, CancellationToken cancellationToken) =>
        WriteAsync(work, durable: true, cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> in a write transaction taken at once (BEGIN IMMEDIATE); when
    /// <paramref name="durable"/> is false the commit is not flushed to disk (see the class remarks).
    /// </summary>
    public async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, bool durable, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        await _writeGate.WaitAsync(cancellationToken);
        try
        {
            using var connection = Open(durable);

            using var transaction = connection.BeginTransaction(deferred: false);
            var result = work(connection, transaction);
            await transaction.CommitAsync(cancellationToken);
            return result;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    private sealed class ConnectionState
    {
        public bool Initialised { get; set; }

        public bool Durable { get; set; }
    }
}
