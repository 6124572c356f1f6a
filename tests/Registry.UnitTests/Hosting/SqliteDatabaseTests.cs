using Microsoft.Data.Sqlite;
using Registry.Hosting.Sqlite;
using Registry.UnitTests.Support;

namespace Registry.UnitTests.Hosting;

/// <summary>Connection settings are applied once per physical connection and follow each write's durability.</summary>
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

    private static long Pragma(SqliteConnection connection, SqliteTransaction? transaction, string name)
    {
        using var command = connection.Command($"PRAGMA {name};", transaction);
        return (long)command.ExecuteScalar()!;
    }
}
