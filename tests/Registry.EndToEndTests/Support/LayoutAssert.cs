namespace Registry.EndToEndTests.Support;

public static class LayoutAssert
{
    /// <summary>
    /// The pulled-back layout holds <paramref name="rootDigest"/> and every blob reachable from it,
    /// each byte-identical to the original layout's copy.
    /// </summary>
    public static void SameContent(OciLayout original, OciLayout pulled, string rootDigest)
    {
        var expected = original.ReachableBlobs(rootDigest);
        var actual = pulled.ReachableBlobs(rootDigest);
        Assert.Equal(expected.Order(StringComparer.Ordinal), actual.Order(StringComparer.Ordinal));
        foreach (var digest in expected)
        {
            var a = original.ReadBlob(digest);
            var b = pulled.ReadBlob(digest);
            Assert.True(a.AsSpan().SequenceEqual(b), $"blob {digest} differs after the round trip ({a.Length} bytes pushed, {b.Length} bytes pulled)");
        }
    }
}
