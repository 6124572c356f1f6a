using Registry.EndToEndTests.Support;

namespace Registry.EndToEndTests;

/// <summary>Registry-to-registry copy into another repository (blob mount), then delete by digest.</summary>
[Collection(RegistryCollection.Name)]
public sealed class CrossRepositoryTests(RegistryFixture registry)
{
    [Fact]
    public async Task RegistryToRegistryCopy_MountsBlobs_ThenDeleteByDigest()
    {
        var ws = registry.CreateWorkspace("xrepo");
        var image = await ImageBuilder.BuildAsync(ws, ws.PathOf("layout"), "1", [2 * 1024, 900 * 1024]);
        await ws.SkopeoAsync("skopeo copy (push source)", "copy", "--dest-tls-verify=false", image.OciReference, ws.Remote("e2e/source:1"));

        // --debug shows how skopeo moved each blob (mount request vs. upload).
        var copy = await ws.SkopeoAsync(
            "skopeo copy registry -> registry", "--debug", "copy", "--src-tls-verify=false", "--dest-tls-verify=false",
            ws.Remote("e2e/source:1"), ws.Remote("e2e/target:1"));
        Assert.True(copy.StandardError.Contains("mount=", StringComparison.Ordinal), $"skopeo never tried a cross-repository mount:\n{copy.Describe()}");
        var mounted = copy.StandardError.Split('\n').Count(l => l.Contains("mount OK", StringComparison.Ordinal));
        Assert.True(mounted == image.LayerDigests.Count, $"expected every layer to be mounted from e2e/source, {mounted} of {image.LayerDigests.Count} were:\n{copy.Describe()}");

        Assert.Equal(image.ManifestDigest, OciLayout.Sha256Digest(await ws.InspectRawAsync("e2e/target:1")));
        var back = new OciLayout(ws.PathOf("back"));
        await ws.SkopeoAsync("skopeo copy (pull target)", "copy", "--src-tls-verify=false", ws.Remote("e2e/target:1"), $"oci:{back.Path}:1");
        LayoutAssert.SameContent(image.Layout, back, image.ManifestDigest);

        // Delete the copy's manifest by digest; the source repository is untouched.
        await ws.SkopeoAsync("skopeo delete", "delete", "--tls-verify=false", ws.Remote($"e2e/target@{image.ManifestDigest}"));
        var gone = await ws.TrySkopeoAsync("inspect", "--raw", "--tls-verify=false", ws.Remote($"e2e/target@{image.ManifestDigest}"));
        Assert.False(gone.Succeeded, $"manifest still served after skopeo delete:\n{gone.Describe()}");
        Assert.Contains("manifest unknown", gone.StandardError, StringComparison.OrdinalIgnoreCase);

        Assert.Equal(image.ManifestDigest, OciLayout.Sha256Digest(await ws.InspectRawAsync("e2e/source:1")));
        var again = new OciLayout(ws.PathOf("again"));
        await ws.SkopeoAsync("skopeo copy (pull source after delete)", "copy", "--src-tls-verify=false", ws.Remote("e2e/source:1"), $"oci:{again.Path}:1");
        LayoutAssert.SameContent(image.Layout, again, image.ManifestDigest);
    }
}
