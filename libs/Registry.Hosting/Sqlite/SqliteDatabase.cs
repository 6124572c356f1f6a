using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Registry.Hosting.Sqlite;

/// <summary>
/// One SQLite database file owned by one service. Connections come from Microsoft.Data.Sqlite's pool;
/// the file runs in WAL mode so readers never wait for the writer, with synchronous=FULL so a commit
/// that was acknowledged survives a power cut. Writes marked not durable (upload session bookkeeping)
/// commit with synchronous=NORMAL: atomic and kept through a crash of the process, only a power cut can
/// take back the last of them.
///
/// Writes go through one writer loop (SQLite allows one writer at a time) that commits them in groups:
/// every write waiting when the previous commit ends joins the next transaction, each inside its own
/// savepoint (a write that fails is rolled back alone), and the group is flushed to disk once. Under
/// concurrent writers one fsync then serves many of them instead of each waiting its turn for its own;
/// writes that need no flush form a group of their own and do not wait for it.
/// </summary>
public sealed partial class SqliteDatabase
{
    /// <summary>
    /// The size of the space reserve kept beside each database (<c>&lt;file&gt;.reserve</c>). On a full disk
    /// SQLite cannot open a database (its shared-memory index needs 32 KiB of new space at every open), so
    /// a registry restarted on a full disk could not even serve pulls; there a reserve is deleted to make
    /// that room (this database's, else another's in the same folder), and made again once the disk has
    /// <see cref="RoomForReserve"/> free.
    /// </summary>
    public const int ReserveBytes = 1024 * 1024;

    /// <summary>Free space from which a missing reserve is made (at start, and at most once a minute after a write).</summary>
    public const long RoomForReserve = 16L * 1024 * 1024;

    private const int SqliteIoError = 10;
    private const int SqliteFull = 13;

    private readonly string _connectionString;
    private readonly string _path;
    private readonly string _folder;
    private readonly string _reserve;
    private readonly ILogger _logger;
    private long _reserveTriedAt; // Environment.TickCount64 of the last attempt to make the reserve again
    // Writes waiting for the writer loop; at most this many share one transaction.
    private const int MaxGroup = 64;
    private readonly Channel<Write> _writes = Channel.CreateUnbounded<Write>(new UnboundedChannelOptions { SingleReader = true });

    // Per physical connection (pooled connections keep their handle): whether its settings were applied,
    // and whether its commits are flushed (synchronous=FULL) or not (NORMAL).
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<SQLitePCL.sqlite3, ConnectionState> _states = [];

    /// <param name="path">The database file.</param>
    /// <param name="schema">Statements that create what is missing (run at every start).</param>
    /// <param name="logger">Where the use of the space reserve is reported; none in tests.</param>
    public SqliteDatabase(string path, string schema, ILogger? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(folder);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();

        _path = path;
        _folder = folder;
        _reserve = path + ".reserve";
        _logger = logger ?? NullLogger.Instance;
        try
        {
            SetUp(schema);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is SqliteFull or SqliteIoError && UseReserve(ex))
        {
            SetUp(schema);
        }

        if (Available(folder) >= RoomForReserve)
        {
            KeepReserve();
        }

        // Waits without a thread while no write is queued; runs SQLite's (blocking) calls when there are.
        _ = Task.Run(RunWriterAsync);
    }

    private void SetUp(string schema)
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode=WAL;" + schema;
        command.ExecuteNonQuery();
    }

    private static long Available(string folder)
    {
        try
        {
            return new DriveInfo(folder).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return long.MaxValue;
        }
    }

    // Deletes a reserve to make room for SQLite when the disk is as good as full: this database's, else
    // another database's in the same folder (made again at its next look once there is room).
    private bool UseReserve(Exception cause)
    {
        if (Available(_folder) >= ReserveBytes)
        {
            return false;
        }

        var reserve = File.Exists(_reserve) ? _reserve : Directory.EnumerateFiles(_folder, "*.db.reserve").FirstOrDefault();
        if (reserve is null)
        {
            return false;
        }

        File.Delete(reserve);
        Log.ReserveUsed(_logger, _path, reserve, cause.Message);
        return true;
    }

    // Makes the reserve when it is missing; bytes that do not compress, so a compressing filesystem keeps
    // all of it (from a plain generator: the cryptographic one would load libcrypto, 3.4 MiB resident, at
    // start). A partial one (no room) is removed again.
    private void KeepReserve()
    {
        _reserveTriedAt = Environment.TickCount64;
        if (File.Exists(_reserve))
        {
            return;
        }

        try
        {
            using var file = File.OpenHandle(_reserve, FileMode.CreateNew, FileAccess.Write);
            var block = new byte[64 * 1024];
            for (var offset = 0; offset < ReserveBytes; offset += block.Length)
            {
                Random.Shared.NextBytes(block);
                RandomAccess.Write(file, block, offset);
            }
        }
        catch (IOException)
        {
            // No room now (or the file appeared meanwhile): tried again later.
            try
            {
                File.Delete(_reserve);
            }
            catch (IOException)
            {
            }
        }
    }

    // A missing reserve (used, or not made at start for want of room) is made once the disk has room; looked
    // for at most once a minute, by the writer after a commit.
    private void KeepReserveWhenRoom()
    {
        if (Environment.TickCount64 - _reserveTriedAt < 60_000)
        {
            return;
        }

        _reserveTriedAt = Environment.TickCount64;
        if (!File.Exists(_reserve) && Available(_folder) >= RoomForReserve)
        {
            KeepReserve();
        }
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
    /// Runs <paramref name="work"/> in a write transaction taken at once (BEGIN IMMEDIATE), possibly shared
    /// with other writes (see the class remarks); when <paramref name="durable"/> is false and no write of
    /// the group is, the commit is not flushed to disk. A write already running when
    /// <paramref name="cancellationToken"/> fires is committed anyway.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, bool durable, CancellationToken cancellationToken) =>
        WriteAsync(work, durable, freesSpace: false, cancellationToken);

    /// <summary>
    /// As <see cref="WriteAsync{T}(Func{SqliteConnection, SqliteTransaction, T}, bool, CancellationToken)"/>;
    /// <paramref name="freesSpace"/> marks a write that is how space comes back (a delete): on a full disk
    /// it may use the reserve (<see cref="ReserveBytes"/>) when nothing else makes room.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, bool durable, bool freesSpace, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }

        var write = new Write<T>(work, durable, cancellationToken) { FreesSpace = freesSpace };
        _writes.Writer.TryWrite(write);
        return write.Task;
    }

    private async Task RunWriterAsync()
    {
        // Writes that need no flush commit in a group of their own first, so they never wait for the
        // fsync of a durable group (writes in flight together have no order among them to keep).
        var quick = new List<Write>(MaxGroup);
        var durable = new List<Write>(MaxGroup);
        while (await _writes.Reader.WaitToReadAsync())
        {
            while (quick.Count + durable.Count < MaxGroup && _writes.Reader.TryRead(out var write))
            {
                if (!write.TryCancel())
                {
                    (write.Durable ? durable : quick).Add(write);
                }
            }

            if (quick.Count > 0)
            {
                CommitGroup(quick, durable: false);
                quick.Clear();
            }

            if (durable.Count > 0)
            {
                CommitGroup(durable, durable: true);
                durable.Clear();
            }
        }
    }

    private void CommitGroup(List<Write> group, bool durable)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                TryCommitGroup(group, durable);
                break;
            }
            catch (Exception ex) when (StorageFull.Is(ex) && MakeRoom(attempt, group, ex))
            {
                // Nothing of the group committed: it runs again from the start.
                foreach (var write in group)
                {
                    write.Reset();
                }
            }
            catch (Exception ex)
            {
                // The transaction did not commit: every write of the group failed with it.
                foreach (var write in group)
                {
                    write.Fail(ex);
                    write.Complete();
                }

                return;
            }
        }

        foreach (var write in group)
        {
            write.Complete();
        }

        KeepReserveWhenRoom();
    }

    private void TryCommitGroup(List<Write> group, bool durable)
    {
        using var connection = Open(durable);
        using var transaction = connection.BeginTransaction(deferred: false);
        if (group.Count == 1)
        {
            // Alone: a failure rolls the whole transaction back, no savepoint needed.
            group[0].Run(connection, transaction);
        }
        else
        {
            foreach (var write in group)
            {
                RunInSavepoint(connection, transaction, write);
            }
        }

        transaction.Commit();
    }

    // A full disk, for a group with a delete (an upload's cancellation must be possible on a full disk: it
    // is how space comes back). First a checkpoint, after which the next transaction writes the log from
    // its start again, into space the file holds already; then the reserve. Other writes just fail (507):
    // they would only fill what is left, and the reserve is kept for the next start.
    private bool MakeRoom(int attempt, List<Write> group, Exception cause)
    {
        if (!group.Exists(static write => write.FreesSpace))
        {
            return false;
        }

        if (attempt == 0)
        {
            try
            {
                using var connection = Open(durable: null);
                using var command = connection.CreateCommand();
                command.CommandText = "PRAGMA wal_checkpoint(PASSIVE);";
                command.ExecuteNonQuery();
                return true;
            }
            catch (SqliteException)
            {
                // The checkpoint needed room too: the reserve is next.
            }
        }

        return attempt <= 1 && UseReserve(cause);
    }

    private static void RunInSavepoint(SqliteConnection connection, SqliteTransaction transaction, Write write)
    {
        Execute(connection, transaction, "SAVEPOINT w");
        try
        {
            write.Run(connection, transaction);
        }
        catch (Exception ex) when (!StorageFull.Is(ex))
        {
            // Undone alone; the others in the group go on. (Should the rollback itself fail, the group fails.)
            // A full disk fails the group instead, which is then tried again once room is made.
            write.Fail(ex);
            Execute(connection, transaction, "ROLLBACK TO w");
        }

        Execute(connection, transaction, "RELEASE w");
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    // One queued write; its outcome is published only once the group's commit is known.
    private abstract class Write
    {
        protected Write(bool durable, CancellationToken cancellationToken)
        {
            Durable = durable;
            CancellationToken = cancellationToken;
        }

        public bool Durable { get; }

        /// <summary>A delete: it may use the space reserve on a full disk.</summary>
        public bool FreesSpace { get; init; }

        protected CancellationToken CancellationToken { get; }

        public abstract bool TryCancel();

        public abstract void Run(SqliteConnection connection, SqliteTransaction transaction);

        public abstract void Fail(Exception exception);

        /// <summary>Forgets the outcome of a run whose transaction did not commit, before it runs again.</summary>
        public abstract void Reset();

        public abstract void Complete();
    }

    private sealed class Write<T> : Write
    {
        private readonly Func<SqliteConnection, SqliteTransaction, T> _work;
        private readonly TaskCompletionSource<T> _outcome = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private T? _result;
        private Exception? _failure;

        public Write(Func<SqliteConnection, SqliteTransaction, T> work, bool durable, CancellationToken cancellationToken)
            : base(durable, cancellationToken)
        {
            _work = work;
        }

        public Task<T> Task => _outcome.Task;

        public override bool TryCancel() =>
            CancellationToken.IsCancellationRequested && _outcome.TrySetCanceled(CancellationToken);

        public override void Run(SqliteConnection connection, SqliteTransaction transaction) =>
            _result = _work(connection, transaction);

        public override void Fail(Exception exception) => _failure ??= exception;

        public override void Reset()
        {
            _result = default;
            _failure = null;
        }

        public override void Complete()
        {
            if (_failure is null)
            {
                _outcome.TrySetResult(_result!);
            }
            else
            {
                _outcome.TrySetException(_failure);
            }
        }
    }

    private sealed class ConnectionState
    {
        public bool Initialised { get; set; }

        public bool Durable { get; set; }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 140, EventName = "MetadataReserveUsed", Level = LogLevel.Warning,
            Message = "The disk is full: {Database} could only be opened or written by deleting the space reserve {Reserve} ({Reason}); free space, pushes get 507 until then")]
        public static partial void ReserveUsed(ILogger logger, string database, string reserve, string reason);

        // Next free id: 141 (metadata uses 140-149).
    }
}
