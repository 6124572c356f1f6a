using Registry.EdgeHttp;
using Registry.EndToEndTests.Support;

namespace Registry.EndToEndTests;

/// <summary>
/// What was pushed is still served after the registry stops and starts again on the same data
/// directory. Always uses its own in-process registry instances (also when E2E_REGISTRY_URL is set).
/// </summary>
[Collection(RegistryCollection.Name)]
public sealed class RestartTests(RegistryFixture registry)
{
    [Fact]
    public async Task PushedImage_SurvivesRestart_OnSameDataDirectory()
    {
        var dataDir = Path.Combine(registry.Root, "restart-data");
        Directory.CreateDirectory(dataDir);
        string[] args = ["--urls", "http://127.0.0.1:0", "--data-dir", dataDir];
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(1));

        LocalImage image;
        TestWorkspace ws;
        await using (var first = await RegistryApp.StartAsync(args, timeout.Token))
        {
            ws = registry.CreateWorkspace("restart", first.Address.Authority);
            image = await ImageBuilder.BuildAsync(ws, ws.PathOf("layout"), "1", [64 * 1024, 1024 * 1024]);
            await ws.SkopeoAsync("skopeo copy (push before restart)", "copy", "--dest-tls-verify=false", image.OciReference, ws.Remote("e2e/restart:1"));
        }

        using var timeout2 = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var second = await RegistryApp.StartAsync(args, timeout2.Token);
        var ws2 = registry.CreateWorkspace("restart-after", second.Address.Authority);
        Assert.Equal(image.ManifestDigest, OciLayout.Sha256Digest(await ws2.InspectRawAsync("e2e/restart:1")));
        var back = new OciLayout(ws2.PathOf("back"));
        await ws2.SkopeoAsync("skopeo copy (pull after restart)", "copy", "--src-tls-verify=false", ws2.Remote("e2e/restart:1"), $"oci:{back.Path}:1");
        LayoutAssert.SameContent(image.Layout, back, image.ManifestDigest);
    }
}
