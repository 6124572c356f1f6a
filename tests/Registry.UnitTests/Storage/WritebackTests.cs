using Registry.Storage.Filesystem;
using Registry.UnitTests.Support;

namespace Registry.UnitTests.Storage;

public sealed class WritebackTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    [Fact]
    public void Start_WrittenFile_KernelTakesTheRequestAndTheBytesStayAsWritten()
    {
        var path = Path.Join(_root.Path, "data");
        var bytes = new byte[300_000];
        Random.Shared.NextBytes(bytes);
        using (var file = File.OpenHandle(path, FileMode.CreateNew, FileAccess.Write))
        {
            RandomAccess.Write(file, bytes, 0);
            Assert.Equal(OperatingSystem.IsLinux(), Writeback.Start(file));
        }

        Assert.Equal(bytes, File.ReadAllBytes(path));
    }

    [Fact]
    public void Start_ClosedHandle_DoesNothing()
    {
        var file = File.OpenHandle(Path.Join(_root.Path, "closed"), FileMode.CreateNew, FileAccess.Write);
        file.Dispose();

        Assert.False(Writeback.Start(file));
    }
}
