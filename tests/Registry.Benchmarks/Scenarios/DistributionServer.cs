using System.Diagnostics;
using System.Globalization;
using Registry.Benchmarks.Http;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// Starts Debian's docker-registry (CNCF distribution) on 127.0.0.1:PORT with filesystem storage in a temp
/// directory, quiet logging and deletes enabled, and stops it by its PID.
/// </summary>
internal sealed class DistributionServer : IAsyncDisposable
{
    public const string Binary = "/usr/bin/docker-registry";

    private readonly Process _process;
    private readonly string _root;

    private DistributionServer(Process process, string root, int port)
    {
        _process = process;
        _root = root;
        Port = port;
        Pid = process.Id;
    }

    public int Port { get; }

    public int Pid { get; }

    public string StorageRoot => Path.Combine(_root, "storage");

    /// <summary>Where distribution keeps upload sessions, as a pattern for <see cref="UploadDirs"/>.</summary>
    public string UploadsGlob => Path.Combine(StorageRoot, "docker/registry/v2/repositories/*/*/_uploads/*");

    public static async Task<DistributionServer> StartAsync(int port, CancellationToken cancellationToken)
    {
        if (!File.Exists(Binary))
        {
            throw new FileNotFoundException("install Debian's docker-registry package to compare with distribution", Binary);
        }

        LocalPort.EnsureFree(port, "docker-registry");
        var root = Directory.CreateTempSubdirectory("regbench-dist-").FullName;
        var config = Path.Combine(root, "config.yml");
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $"""
            version: 0.1
            log:
              level: warn
              accesslog:
                disabled: true
            storage:
              filesystem:
                rootdirectory: {Path.Combine(root, "storage")}
              cache:
                blobdescriptor: inmemory
              delete:
                enabled: true
            http:
              addr: 127.0.0.1:{port}
              secret: registry-benchmarks-local-only
            """), cancellationToken);

        var start = new ProcessStartInfo(Binary, ["serve", config])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("docker-registry did not start");
        var log = new StreamWriter(Path.Combine(root, "registry.log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => WriteLine(log, e.Data);
        process.ErrorDataReceived += (_, e) => WriteLine(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        return await ReferenceProcess.ReadyOrStoppedAsync(
            new DistributionServer(process, root, port), static (server, token) => server.WaitReadyAsync(token), cancellationToken);
    }

    // SIGTERM first, so distribution exits cleanly; SIGKILL only if it does not.
    public async ValueTask DisposeAsync() => await ReferenceProcess.StopAsync(_process, "-TERM", _root);

    private static void WriteLine(StreamWriter log, string? line)
    {
        if (line is not null)
        {
            lock (log)
            {
                log.WriteLine(line);
            }
        }
    }

    private Task WaitReadyAsync(CancellationToken cancellationToken) =>
        ReferenceProcess.WaitReadyAsync(
            _process, "docker-registry", Port, "/v2/", _ => Task.FromResult($"see {_root}/registry.log"), cancellationToken);
}
