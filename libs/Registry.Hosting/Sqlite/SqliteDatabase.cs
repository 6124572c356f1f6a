using System.Threading.Channels;
using Microsoft.Data.Sqlite;

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
public sealed class SqliteDatabase
{
    private readonly string _connectionString;
    // Writes waiting for the writer loop; at most this many share one transaction.
    private const int MaxGroup = 64;
    private readonly Channel<Write> _writes = Channel.CreateUnbounded<Write>(new UnboundedChannelOptions { SingleReader = true });

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

        // Waits without a thread while no write is queued; runs SQLite's (blocking) calls when there are.
        _ = Task.Run(RunWriterAsync);
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
    public Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, T> work, bool durable, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }

        var write = new Write<T>(work, durable, cancellationToken);
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
        try
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

        foreach (var write in group)
        {
            write.Complete();
        }
    }

    private static void RunInSavepoint(SqliteConnection connection, SqliteTransaction transaction, Write write)
    {
        Execute(connection, transaction, "SAVEPOINT w");
        try
        {
            write.Run(connection, transaction);
        }
        catch (Exception ex)
        {
            // Undone alone; the others in the group go on. (Should the rollback itself fail, the group fails.)
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

        protected CancellationToken CancellationToken { get; }

        public abstract bool TryCancel();

        public abstract void Run(SqliteConnection connection, SqliteTransaction transaction);

        public abstract void Fail(Exception exception);

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
}
