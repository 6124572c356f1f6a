using System.Text.Json.Nodes;

namespace Registry.EndToEndTests.Support;

/// <summary>
/// Per-test directory with isolated client state (auth file, signature policy, temp dir, podman
/// store) and helpers that run the real clients against the registry under test.
/// </summary>
public sealed class TestWorkspace
{
    private readonly Dictionary<string, string> environment;

    public TestWorkspace(string directory, string registryHost, string podmanRunRoot)
    {
        PodmanRunRoot = podmanRunRoot;
        Directory = directory;
        RegistryHost = registryHost;
        System.IO.Directory.CreateDirectory(directory);
        System.IO.Directory.CreateDirectory(TempDirectory);
        PolicyFile = Path.Combine(directory, "policy.json");
        File.WriteAllText(PolicyFile, """{"default":[{"type":"insecureAcceptAnything"}]}""");
        var auth = Path.Combine(directory, "auth.json");
        File.WriteAllText(auth, """{"auths":{}}""");
        environment = new Dictionary<string, string>
        {
            ["TMPDIR"] = TempDirectory,
            ["REGISTRY_AUTH_FILE"] = auth,
            ["DOCKER_CONFIG"] = Path.Combine(directory, "docker-config"),
        };
    }

    public string Directory { get; }

    public string RegistryHost { get; }

    public string PolicyFile { get; }

    public string PodmanRunRoot { get; }

    public string TempDirectory => Path.Combine(Directory, "tmp");

    public string PathOf(string relative) => Path.Combine(Directory, relative);

    /// <summary>docker://127.0.0.1:PORT/repo:tag-or-@digest</summary>
    public string Remote(string repositoryAndReference) => $"docker://{RegistryHost}/{repositoryAndReference}";

    public Task<ProcessResult> RunAsync(string tool, IEnumerable<string> args, TimeSpan? timeout = null) =>
        ExternalTool.RunAsync(tool, args, Directory, environment, timeout);

    /// <summary>
    /// Runs skopeo with this workspace's policy; on failure runs the same command once more with
    /// --debug so the assertion message shows the HTTP exchange skopeo saw.
    /// </summary>
    public async Task<ProcessResult> SkopeoAsync(string what, params string[] args)
    {
        var result = await TrySkopeoAsync(args).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            var debug = await RunAsync("skopeo", ["--debug", "--policy", PolicyFile, .. args]).ConfigureAwait(false);
            Assert.Fail($"{what} failed:\n{result.Describe()}\n=== same command again with --debug ===\n{debug.Describe()}");
        }

        return result;
    }

    public Task<ProcessResult> TrySkopeoAsync(params string[] args) =>
        RunAsync("skopeo", ["--policy", PolicyFile, .. args]);

    public async Task<byte[]> InspectRawAsync(string repositoryAndReference)
    {
        var r = await SkopeoAsync($"skopeo inspect --raw {repositoryAndReference}", "inspect", "--raw", "--tls-verify=false", Remote(repositoryAndReference)).ConfigureAwait(false);

        // skopeo writes the manifest bytes exactly as the registry served them.
        return r.StandardOutputBytes;
    }

    public async Task<JsonObject> InspectJsonAsync(string repositoryAndReference, params string[] extra)
    {
        var r = await SkopeoAsync($"skopeo inspect {string.Join(' ', extra)} {repositoryAndReference}", ["inspect", "--tls-verify=false", .. extra, Remote(repositoryAndReference)]).ConfigureAwait(false);
        return JsonNode.Parse(r.StandardOutput)!.AsObject();
    }

    /// <summary>podman with an isolated vfs store inside this workspace.</summary>
    public async Task<ProcessResult> PodmanAsync(string what, params string[] args)
    {
        var r = await TryPodmanAsync(args).ConfigureAwait(false);
        if (!r.Succeeded)
        {
            var debug = await RunAsync("podman", [.. PodmanGlobalArgs(), "--log-level=debug", .. args]).ConfigureAwait(false);
            Assert.Fail($"{what} failed:\n{r.Describe()}\n=== same command again with --log-level=debug ===\n{debug.Describe()}");
        }

        return r;
    }

    public Task<ProcessResult> TryPodmanAsync(params string[] args) => RunAsync("podman", [.. PodmanGlobalArgs(), .. args]);

    private string[] PodmanGlobalArgs() =>
    [
        "--root", PathOf("storage"), "--runroot", PodmanRunRoot, "--storage-driver", "vfs",
        "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--tmpdir", PathOf("podman-tmp"),
    ];
}
