using Registry.Blob.Storage;
using Registry.Oci.Errors;
using Registry.Storage;
using Registry.UnitTests.Support;

namespace Registry.UnitTests.Blob.Storage;

public sealed class ResilientStorageDriverTests
{
    private static readonly StorageResilienceOptions Options = new()
    {
        Retries = 2,
        RetryDelay = TimeSpan.Zero,
        BreakerFailures = 3,
        BreakDuration = TimeSpan.FromSeconds(10),
    };

    // EREMOTEIO and EROFS: errors the scripted driver calls permanent (it retries only EIO).
    private const int RemoteIoError = 121;
    private const int ReadOnlyFilesystem = 30;
    private const int NoSpace = 28;

    private readonly ManualTimeProvider _time = new();

    [Fact]
    public async Task TransientErrors_AreRetried_UntilTheCallSucceeds()
    {
        var inner = new ScriptedDriver { SizeFailures = 2, Transient = true };
        var driver = new ResilientStorageDriver(inner, Options, _time);

        Assert.Equal(42, await driver.GetSizeAsync("a", CancellationToken.None));
        Assert.Equal(3, inner.SizeCalls);
        Assert.Equal(0, driver.State);
    }

    [Fact]
    public async Task PermanentErrors_AreNotRetried()
    {
        var inner = new ScriptedDriver { SizeFailures = 1, Transient = false };
        var driver = new ResilientStorageDriver(inner, Options, _time);

        await Assert.ThrowsAsync<IOException>(() => driver.GetSizeAsync("a", CancellationToken.None).AsTask());
        Assert.Equal(1, inner.SizeCalls);
    }

    [Fact]
    public async Task FailuresInARow_OpenTheBreaker_WhichFailsFast_ThenAProbeClosesIt()
    {
        var inner = new ScriptedDriver { SizeFailures = 3, Transient = false };
        var driver = new ResilientStorageDriver(inner, Options, _time);
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<IOException>(() => driver.GetSizeAsync("a", CancellationToken.None).AsTask());
        }

        Assert.Equal(2, driver.State);

        // Open: no call reaches the storage, the answer is UNAVAILABLE.
        var refused = await Assert.ThrowsAsync<OciException>(() => driver.GetSizeAsync("a", CancellationToken.None).AsTask());
        Assert.Equal(OciErrorCode.Unavailable, refused.Code);
        Assert.Equal(3, inner.SizeCalls);

        // After the pause one call probes; the storage answers, so the breaker closes.
        _time.Now += TimeSpan.FromSeconds(11);
        Assert.Equal(42, await driver.GetSizeAsync("a", CancellationToken.None));
        Assert.Equal(0, driver.State);
        Assert.Equal(42, await driver.GetSizeAsync("a", CancellationToken.None));
    }

    [Fact]
    public async Task AFailedProbe_OpensTheBreakerAgain()
    {
        var inner = new ScriptedDriver { SizeFailures = 4, Transient = false };
        var driver = new ResilientStorageDriver(inner, Options, _time);
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<IOException>(() => driver.GetSizeAsync("a", CancellationToken.None).AsTask());
        }

        _time.Now += TimeSpan.FromSeconds(11);
        await Assert.ThrowsAsync<IOException>(() => driver.GetSizeAsync("a", CancellationToken.None).AsTask());
        Assert.Equal(2, driver.State);
        await Assert.ThrowsAsync<OciException>(() => driver.GetSizeAsync("a", CancellationToken.None).AsTask());
        Assert.Equal(4, inner.SizeCalls);
    }

    [Fact]
    public async Task MissingObjectsAndCancellations_AreAnswers_NotFailures()
    {
        var inner = new ScriptedDriver { Missing = true };
        var driver = new ResilientStorageDriver(inner, Options, _time);
        for (var i = 0; i < 10; i++)
        {
            await Assert.ThrowsAsync<StorageNotFoundException>(() => driver.OpenReadAsync("a", 0, CancellationToken.None).AsTask());
        }

        Assert.Equal(0, driver.State);
    }

    [Fact]
    public async Task FailedCommits_CountTowardTheBreaker_AndAreNotRetried()
    {
        var inner = new ScriptedDriver { CommitError = ReadOnlyFilesystem };
        var driver = new ResilientStorageDriver(inner, Options, _time);
        for (var i = 0; i < 3; i++)
        {
            await using var writer = await driver.OpenWriterAsync("w", 0, CancellationToken.None);
            await Assert.ThrowsAsync<IOException>(() => writer.CommitAsync(CancellationToken.None).AsTask());
        }

        Assert.Equal(3, inner.Commits);
        Assert.Equal(2, driver.State);
        await Assert.ThrowsAsync<OciException>(() => driver.OpenWriterAsync("w", 0, CancellationToken.None).AsTask());
    }

    [Theory]
    [InlineData(NoSpace)] // a full disk answers for the storage: it refuses writes, reads go on
    [InlineData(24)] // EMFILE: the process is out of descriptors, the storage is fine
    public async Task AFullDiskOrAProcessOutOfDescriptors_IsNotAStorageFailure_SoReadsGoOn(int errno)
    {
        var inner = new ScriptedDriver { CommitError = errno };
        var driver = new ResilientStorageDriver(inner, Options, _time);
        for (var i = 0; i < 5; i++)
        {
            await using var writer = await driver.OpenWriterAsync("w", 0, CancellationToken.None);
            await Assert.ThrowsAsync<IOException>(() => writer.CommitAsync(CancellationToken.None).AsTask());
        }

        Assert.Equal(5, inner.Commits);
        Assert.Equal(0, driver.State);
        Assert.Equal(42, await driver.GetSizeAsync("a", CancellationToken.None));
    }

    [Fact]
    public void FilesystemDriver_CallsNetworkMountErrorsTransient()
    {
        var filesystem = new Registry.Storage.Filesystem.FilesystemDriver(
            new Registry.Storage.Filesystem.FilesystemDriverOptions { RootDirectory = Path.GetTempPath() });
        Assert.True(filesystem.IsTransient(new IOException("stale handle", 116)));
        Assert.True(filesystem.IsTransient(new IOException("i/o error", 5)));
        Assert.False(filesystem.IsTransient(new IOException("no space left", 28)));
        Assert.False(filesystem.IsTransient(new FileNotFoundException()));
    }

    /// <summary>A driver whose failures the test scripts.</summary>
    private sealed class ScriptedDriver : IStorageDriver
    {
        public int SizeFailures { get; set; }

        public bool Transient { get; set; }

        public bool Missing { get; set; }

        /// <summary>The errno each commit fails with; 0: commits succeed.</summary>
        public int CommitError { get; set; }

        public int SizeCalls { get; private set; }

        public int Commits { get; private set; }

        public string Name => "scripted";

        public ValueTask<long?> GetSizeAsync(string path, CancellationToken cancellationToken)
        {
            SizeCalls++;
            if (SizeCalls <= SizeFailures)
            {
                throw new IOException("scripted failure", Transient ? 5 : RemoteIoError);
            }

            return ValueTask.FromResult<long?>(42);
        }

        public ValueTask<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken) =>
            Missing ? throw new StorageNotFoundException(Name, path) : ValueTask.FromResult<Stream>(new MemoryStream());

        public ValueTask<IStorageWriter> OpenWriterAsync(string path, long resumeAt, CancellationToken cancellationToken) =>
            ValueTask.FromResult<IStorageWriter>(new ScriptedWriter(this));

        public ValueTask MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask ReplaceAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public ValueTask DeleteAsync(string path, CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public async IAsyncEnumerable<string> ListAsync(string folder, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            yield break;
        }

        public string? GetLocalPath(string path) => null;

        public bool IsTransient(Exception exception) => exception is IOException { HResult: 5 };

        private sealed class ScriptedWriter(ScriptedDriver owner) : IStorageWriter
        {
            public long Size => 0;

            public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => ValueTask.CompletedTask;

            public ValueTask CommitAsync(CancellationToken cancellationToken)
            {
                owner.Commits++;
                return owner.CommitError != 0 ? throw new IOException("scripted commit failure", owner.CommitError) : ValueTask.CompletedTask;
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
