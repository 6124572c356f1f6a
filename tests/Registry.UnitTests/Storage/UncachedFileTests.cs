using System.Runtime.InteropServices;
using Registry.Storage.Filesystem;
using Registry.UnitTests.Support;

namespace Registry.UnitTests.Storage;

// The buffer pool is one per process: the tests that count on it or take from it run one at a time.
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class UncachedFileCollection
{
    public const string Name = "uncached files";
}

[Collection(UncachedFileCollection.Name)]
public sealed class UncachedFileTests : IDisposable
{
    private readonly TempDirectory _root = new();

    public void Dispose() => _root.Dispose();

    public static TheoryData<int> Lengths => new()
    {
        0, 1, 4095, 4096, 4097, UncachedFile.BufferSize - 1, UncachedFile.BufferSize, UncachedFile.BufferSize + 1,
        (3 * UncachedFile.BufferSize) + 5, 1024 * 1024,
    };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Writer_ThenReader_KeepEveryByte(int length)
    {
        var path = Path.Join(_root.Path, "chunk");
        var bytes = new byte[length];
        new Random(length).NextBytes(bytes);
        using (var writer = CreateOrFallBack(path))
        {
            if (writer is null)
            {
                return;
            }

            // Uneven pieces, so the buffer fills across piece boundaries.
            for (var at = 0; at < length;)
            {
                var piece = Math.Min(length - at, at % 3 == 0 ? 7 : 10_000);
                writer.Write(bytes.AsSpan(at, piece));
                at += piece;
            }

            Assert.Equal(length, writer.Length);
            writer.Complete();
        }

        Assert.Equal(bytes, File.ReadAllBytes(path));

        using var reader = UncachedFile.TryOpenRead(path);
        Assert.NotNull(reader);
        var back = new List<byte>();
        for (var reads = 0; reads < 100; reads++)
        {
            var next = reader.ReadNext();
            if (next.IsEmpty)
            {
                break;
            }

            back.AddRange(next.ToArray());
        }

        Assert.Equal(bytes, back.ToArray());
        Assert.True(reader.ReadNext().IsEmpty);
    }

    [Fact]
    public void Writer_OpensTheFileUncached()
    {
        var path = Path.Join(_root.Path, "chunk");
        using var writer = CreateOrFallBack(path);
        if (writer is null)
        {
            return;
        }

        Assert.True(OpenedWithODirect(path), "the file's descriptor lacks O_DIRECT");
    }

    [Fact]
    public void TryCreate_ExistingFile_ReturnsNullAndLeavesItAlone()
    {
        var path = Path.Join(_root.Path, "taken");
        File.WriteAllBytes(path, [1, 2, 3]);

        Assert.Null(UncachedFile.TryCreate(path));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(path));
    }

    [Fact]
    public void TryCreate_MissingFolder_ReturnsNullAndCreatesNothing()
    {
        var folder = Path.Join(_root.Path, "gone");

        Assert.Null(UncachedFile.TryCreate(Path.Join(folder, "chunk")));
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public void TryCreate_AllBuffersInUse_ReturnsNullUntilOneComesBack()
    {
        if (!UncachedFile.Available)
        {
            return;
        }

        var writers = new List<UncachedWriter>();
        try
        {
            UncachedWriter? next;
            while (writers.Count <= UncachedFile.MaxBuffers
                && (next = UncachedFile.TryCreate(Path.Join(_root.Path, $"c{writers.Count}"))) is not null)
            {
                writers.Add(next);
            }

            Assert.Equal(UncachedFile.MaxBuffers, writers.Count);
            Assert.Null(UncachedFile.TryCreate(Path.Join(_root.Path, "one-more")));
            Assert.False(File.Exists(Path.Join(_root.Path, "one-more")));

            writers[0].Dispose();
            using var again = UncachedFile.TryCreate(Path.Join(_root.Path, "one-more"));
            Assert.NotNull(again);
            Assert.Equal(UncachedFile.MaxBuffers, UncachedFile.AllocatedBuffers);
        }
        finally
        {
            foreach (var writer in writers)
            {
                writer.Dispose();
            }
        }
    }

    // Null only where uncached files cannot be had: then the filesystem refused and nothing was left behind.
    private static UncachedWriter? CreateOrFallBack(string path)
    {
        var writer = UncachedFile.TryCreate(path);
        if (writer is null)
        {
            Assert.False(UncachedFile.Available);
            Assert.False(File.Exists(path));
        }

        return writer;
    }

    // Looks the path up among this process's descriptors and reads its open flags (octal) from fdinfo.
    private static bool OpenedWithODirect(string path)
    {
        var odirect = RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x10000 : 0x4000;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try
            {
                target = new FileInfo(fd).LinkTarget;
            }
            catch (IOException)
            {
                continue;
            }

            if (target != path)
            {
                continue;
            }

            var flags = File.ReadAllLines($"/proc/self/fdinfo/{Path.GetFileName(fd)}").First(l => l.StartsWith("flags:", StringComparison.Ordinal));
            return (Convert.ToInt32(flags["flags:".Length..].Trim(), 8) & odirect) != 0;
        }

        throw new InvalidOperationException($"no descriptor of this process names {path}");
    }
}
