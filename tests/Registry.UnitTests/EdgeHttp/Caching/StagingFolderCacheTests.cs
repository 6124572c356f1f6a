using Registry.EdgeHttp.Caching;

namespace Registry.UnitTests.EdgeHttp.Caching;

public sealed class StagingFolderCacheTests
{
    [Fact]
    public void Find_OnlyTheStartingRepository_UntilForgotten()
    {
        var cache = new StagingFolderCache();
        cache.Remember("a/b", "id1", "/data/_uploads/id1");

        Assert.Equal(("/data/_uploads/id1", 0L), cache.Find("a/b", "id1"));
        cache.UpdateSize("id1", 4096);
        Assert.Equal(("/data/_uploads/id1", 4096L), cache.Find("a/b", "id1"));
        Assert.Null(cache.Find("other/repo", "id1"));
        Assert.Null(cache.Find("a/b", "id2"));

        cache.Forget("id1");
        Assert.Null(cache.Find("a/b", "id1"));
    }

    [Fact]
    public void EmptyFolder_IsNotKept()
    {
        var cache = new StagingFolderCache();
        cache.Remember("a/b", "id1", string.Empty);
        Assert.Null(cache.Find("a/b", "id1"));
    }

    [Fact]
    public void Full_StartsOver_InsteadOfGrowing()
    {
        var cache = new StagingFolderCache();
        for (var i = 0; i < 16_384; i++)
        {
            cache.Remember("a/b", $"id{i}", $"/f/{i}");
        }

        Assert.Equal("/f/0", cache.Find("a/b", "id0")?.Folder);
        cache.Remember("a/b", "last", "/f/last");
        Assert.Null(cache.Find("a/b", "id0"));
        Assert.Equal("/f/last", cache.Find("a/b", "last")?.Folder);
    }
}
