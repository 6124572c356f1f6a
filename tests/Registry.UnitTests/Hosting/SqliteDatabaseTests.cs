using Microsoft.Data.Sqlite;
using Registry.Hosting.Sqlite;
using Registry.UnitTests.Support;

namespace Registry.UnitTests.Hosting;

/// <summary>
/// Connection settings are applied once per physical connection and follow each write's durability;
/// concurrent writes are committed in groups where one failing write is undone alone.
/// </summary>
public sealed class SqliteDatabaseTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _root.Dispose();
    }

    [Fact]
    public async Task Writes_CommitFlushedOrNot_AsAsked_AndEveryConnectionHasItsSettings()
    {
        var database = new SqliteDatabase(Path.Combine(_root.Path, "t.db"), "CREATE TABLE IF NOT EXISTS t (v INTEGER);");

        Assert.Equal(2L, await database.WriteAsync((c, t) => Pragma(c, t, "synchronous"), durable: true, CancellationToken.None));
        Assert.Equal(1L, await database.WriteAsync((c, t) => Pragma(c, t, "synchronous"), durable: false, CancellationToken.None));
        Assert.Equal(2L, await database.WriteAsync((c, t) => Pragma(c, t, "synchronous"), CancellationToken.None));

        using var reader = database.Open();
        Assert.Equal(1L, Pragma(reader, null, "foreign_keys"));
        Assert.Equal(30000L, Pragma(reader, null, "busy_timeout"));
    }

    [Fact]
    public void ASpaceReserve_IsKeptBesideTheDatabase_AndLeftAsItIs()
    {
        var path = Path.Combine(_root.Path, "r.db");
        _ = new SqliteDatabase(path, "CREATE TABLE IF NOT EXISTS t (v INTEGER);");
        var reserve = new FileInfo(path + ".reserve");
        Assert.Equal(SqliteDatabase.ReserveBytes, reserve.Length);
        var made = reserve.LastWriteTimeUtc;

        // With room, a later start keeps the file it finds (using it is FullDiskTests' part: it needs a full disk).
        _ = new SqliteDatabase(path, "CREATE TABLE IF NOT EXISTS t (v INTEGER);");
        reserve.Refresh();
        Assert.Equal(made, reserve.LastWriteTimeUtc);
    }

    [Fact]
    public async Task ConcurrentWrites_AllCommitted_AndAFailingOneIsUndoneAlone()
    {
        var database = new SqliteDatabase(Path.Combine(_root.Path, "g.db"), "CREATE TABLE IF NOT EXISTS t (v INTEGER PRIMARY KEY);");
        const int Writers = 200;
        const int Failing = 77;

        // Started together so that many of them wait behind one commit and share the next.
        using var start = new ManualResetEventSlim();
        var writes = Enumerable.Range(0, Writers).Select(i => Task.Run(() =>
        {
            start.Wait();
            return database.WriteAsync((c, t) =>
            {
                using (var insert = c.Command("INSERT INTO t (v) VALUES ($v)", t).With("$v", i))
                {
                    insert.ExecuteNonQuery();
                }

                // Its row was written inside the group's transaction: the failure must take it back.
                return i == Failing ? throw new InvalidOperationException("refused") : i;
            }, durable: i % 2 == 0, CancellationToken.None);
        })).ToArray();
        start.Set();

        for (var i = 0; i < Writers; i++)
        {
            if (i == Failing)
            {
                await Assert.ThrowsAsync<InvalidOperationException>(() => writes[i]);
            }
            else
            {
                Assert.Equal(i, await writes[i]);
            }
        }

        using var reader = database.Open();
        using var count = reader.Command("SELECT count(*), sum(v) FROM t");
        using var row = await count.ExecuteReaderAsync();
        Assert.True(await row.ReadAsync());
        Assert.Equal(Writers - 1, row.GetInt64(0));
        Assert.Equal((Writers * (Writers - 1) / 2) - Failing, row.GetInt64(1));
    }

    [Fact]
    public async Task Write_CancelledBeforeItRuns_IsNotCommitted()
    {
        var database = new SqliteDatabase(Path.Combine(_root.Path, "c.db"), "CREATE TABLE IF NOT EXISTS t (v INTEGER);");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => database.WriteAsync((c, t) =>
        {
            using var insert = c.Command("INSERT INTO t (v) VALUES (1)", t);
            return insert.ExecuteNonQuery();
        }, cancelled.Token));

        Assert.Equal(0L, await database.WriteAsync((c, t) =>
        {
            using var count = c.Command("SELECT count(*) FROM t", t);
            return (long)count.ExecuteScalar()!;
        }, CancellationToken.None));
    }

    private static long Pragma(SqliteConnection connection, SqliteTransaction? transaction, string name)
    {
        using var command = connection.Command($"PRAGMA {name};", transaction);
        return (long)command.ExecuteScalar()!;
    }
}
