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

        var server = new DistributionServer(process, root, port);
        try
        {
            await server.WaitReadyAsync(cancellationToken);
        }
        catch
        {
            // Not ready, failed or cancelled: stop it and delete its folder here, since no caller holds it yet.
            await server.DisposeAsync();
            throw;
        }

        return server;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM by PID first, so distribution exits cleanly; SIGKILL only if it does not.
            using (var term = Process.Start("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)]))
            {
                await term.WaitForExitAsync();
            }

            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync();
            }
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // Left for the temp cleaner; the path is printed at start.
        }
    }

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

    private async Task WaitReadyAsync(CancellationToken cancellationToken)
    {
        var endPoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, Port);
        var request = RawRequest.Build("GET", "/v2/", $"127.0.0.1:{Port}");
        for (var attempt = 0; attempt < 100; attempt++)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"docker-registry exited with {_process.ExitCode}; see {_root}/registry.log");
            }

            // Each attempt is bounded: a listener that accepts and never answers must not hold the run.
            using var attemptTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attemptTimeout.CancelAfter(TimeSpan.FromSeconds(1));
            try
            {
                using var connection = new RawHttpConnection(endPoint);
                var response = await connection.SendAsync(request, default, false, false, null, attemptTimeout.Token);
                if (response.Status == 200 && !_process.HasExited)
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
            {
                // Not listening yet.
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // No answer within the attempt's second; try again.
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new TimeoutException($"docker-registry on :{Port} did not answer /v2/ within 10 s");
    }
}
