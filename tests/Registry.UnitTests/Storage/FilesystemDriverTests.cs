using Registry.Storage;
using Registry.Storage.Filesystem;
using Registry.UnitTests.Support;

namespace Registry.UnitTests.Storage;

public sealed class FilesystemDriverTests : IDisposable
{
    private readonly TempDirectory _root = new();
    private readonly FilesystemDriver _driver;

    public FilesystemDriverTests()
    {
        _driver = new FilesystemDriver(new FilesystemDriverOptions { RootDirectory = _root.Path });
    }

    public void Dispose() => _root.Dispose();

    [Fact]
    public async Task Writer_DisposedWithoutCommit_TakesItsBytesBack()
    {
        await using (var writer = await _driver.OpenWriterAsync("a/data", 0, CancellationToken.None))
        {
            await writer.WriteAsync(new byte[10], CancellationToken.None);
            await writer.CommitAsync(CancellationToken.None);
        }

        await using (var writer = await _driver.OpenWriterAsync("a/data", 10, CancellationToken.None))
        {
            await writer.WriteAsync(new byte[5], CancellationToken.None);
        }

        Assert.Equal(10, await _driver.GetSizeAsync("a/data", CancellationToken.None));
    }

    [Fact]
    public async Task OpenWriter_FileLongerThanAcknowledged_DropsTheUnacknowledgedTail()
    {
        await using (var writer = await _driver.OpenWriterAsync("b/data", 0, CancellationToken.None))
        {
            await writer.WriteAsync(new byte[20], CancellationToken.None);
            await writer.CommitAsync(CancellationToken.None);
        }

        await using (var writer = await _driver.OpenWriterAsync("b/data", 8, CancellationToken.None))
        {
            Assert.Equal(8, writer.Size);
            await writer.CommitAsync(CancellationToken.None);
        }

        Assert.Equal(8, await _driver.GetSizeAsync("b/data", CancellationToken.None));
    }

    [Fact]
    public async Task Move_DestinationExists_KeepsDestinationAndRemovesSource()
    {
        await WriteAsync("src", [1, 2, 3]);
        await WriteAsync("dst", [9, 9, 9]);

        await _driver.MoveAsync("src", "dst", CancellationToken.None);

        Assert.Null(await _driver.GetSizeAsync("src", CancellationToken.None));
        await using var stream = await _driver.OpenReadAsync("dst", 0, CancellationToken.None);
        Assert.Equal(9, stream.ReadByte());
    }

    [Fact]
    public async Task OpenRead_Missing_ThrowsStorageNotFound()
    {
        await Assert.ThrowsAsync<StorageNotFoundException>(async () => await _driver.OpenReadAsync("nope", 0, CancellationToken.None));
    }

    [Theory]
    [InlineData("/abs")]
    [InlineData("a/../../etc")]
    [InlineData("a\\b")]
    public async Task Paths_EscapingTheRoot_AreRefused(string path)
    {
        await Assert.ThrowsAsync<ArgumentException>(async () => await _driver.GetSizeAsync(path, CancellationToken.None));
    }

    private async Task WriteAsync(string path, byte[] content)
    {
        await using var writer = await _driver.OpenWriterAsync(path, 0, CancellationToken.None);
        await writer.WriteAsync(content, CancellationToken.None);
        await writer.CommitAsync(CancellationToken.None);
    }
}
