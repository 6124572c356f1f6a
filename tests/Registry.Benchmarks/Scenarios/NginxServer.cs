using System.Diagnostics;
using System.Globalization;
using Registry.Benchmarks.Http;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// Starts Debian's nginx on 127.0.0.1:PORT as the static-file anchor of the blob GET target: the fixtures'
/// 32 MiB blob written as a plain file at the path a registry serves it under, two workers, sendfile on,
/// no access log. Runs in the foreground (daemon off) so its master is a child of the runner, and stops by
/// that PID. Only scenarios a static server can answer (s2) run against it.
/// </summary>
internal sealed class NginxServer : IAsyncDisposable
{
    public const string Binary = "/usr/sbin/nginx";

    /// <summary>Scenarios that need nothing but GETs of fixed paths, so a static server answers them.</summary>
    public static readonly IReadOnlySet<string> Scenarios = new HashSet<string>(StringComparer.Ordinal) { "s2" };

    private readonly Process _process;
    private readonly string _root;
    private readonly string _readyPath;

    private NginxServer(Process process, string root, int port, string readyPath)
    {
        _process = process;
        _root = root;
        Port = port;
        Pid = process.Id;
        _readyPath = readyPath;
    }

    public int Port { get; }

    /// <summary>The master's PID; the monitor adds its direct children, the workers.</summary>
    public int Pid { get; }

    public string Root => _root;

    public static async Task<NginxServer> StartAsync(int port, Fixtures fixtures, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(fixtures);
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the nginx anchor runs on Linux only");
        }

        if (!File.Exists(Binary))
        {
            throw new FileNotFoundException("install Debian's nginx package to compare blob GETs with a static file server", Binary);
        }

        LocalPort.EnsureFree(port, "nginx");
        var root = Directory.CreateTempSubdirectory("regbench-nginx-").FullName;
        string config;
        string ready;
        try
        {
            (config, ready) = await WriteFilesAsync(root, port, fixtures, cancellationToken);
        }
        catch
        {
            Directory.Delete(root, recursive: true);
            throw;
        }

        // -e names the error log nginx opens before it reads the configuration (Debian's default is not
        // writable without root); -p keeps relative paths inside the folder.
        var start = new ProcessStartInfo(Binary, ["-c", config, "-p", root, "-e", Path.Combine(root, "error.log")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        var process = Process.Start(start) ?? throw new InvalidOperationException("nginx did not start");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        return await ReferenceProcess.ReadyOrStoppedAsync(
            new NginxServer(process, root, port, "/" + ready), static (server, token) => server.WaitReadyAsync(token), cancellationToken);
    }

    // SIGQUIT: nginx's graceful stop (the master ends its workers, then itself).
    public async ValueTask DisposeAsync() => await ReferenceProcess.StopAsync(_process, "-QUIT", _root);

    // The blob, a readiness file of this run's own, and a configuration that keeps nginx inside root.
    [System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
    private static async Task<(string Config, string Ready)> WriteFilesAsync(string root, int port, Fixtures fixtures, CancellationToken cancellationToken)
    {
        var www = Path.Combine(root, "www");
        var blobs = Path.Combine(www, "v2", Fixtures.BigRepository, "blobs");
        Directory.CreateDirectory(blobs);
        await File.WriteAllBytesAsync(Path.Combine(blobs, fixtures.BigDigest), fixtures.Big, cancellationToken);
        // A name of this run's own: another server on the port (a second run's nginx) answers it with 404.
        var ready = "ready-" + Guid.NewGuid().ToString("N");
        await File.WriteAllTextAsync(Path.Combine(www, ready), "ready\n", cancellationToken);

        // Started as root, nginx's workers run as an unprivileged user: they must be able to read the files
        // (a temp folder is created for its owner only).
        const UnixFileMode Readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        const UnixFileMode Searchable = Readable | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(root, Searchable);
        foreach (var folder in Directory.EnumerateDirectories(www, "*", SearchOption.AllDirectories).Append(www))
        {
            File.SetUnixFileMode(folder, Searchable);
        }

        foreach (var file in Directory.EnumerateFiles(www, "*", SearchOption.AllDirectories))
        {
            File.SetUnixFileMode(file, Readable);
        }

        // Every path nginx would otherwise take from its build (pid, temp folders, error log) points into
        // the runner's own folder, so it needs no root and touches nothing of the system's nginx.
        var config = Path.Combine(root, "nginx.conf");
        await File.WriteAllTextAsync(config, string.Create(CultureInfo.InvariantCulture, $$"""
            daemon off;
            master_process on;
            worker_processes 2;
            pid "{{root}}/nginx.pid";
            error_log "{{root}}/error.log" warn;
            events { worker_connections 4096; }
            http {
              access_log off;
              sendfile on;
              tcp_nopush on;
              keepalive_requests 1000000;
              keepalive_timeout 60s;
              default_type application/octet-stream;
              client_body_temp_path "{{root}}/tmp-body";
              proxy_temp_path "{{root}}/tmp-proxy";
              fastcgi_temp_path "{{root}}/tmp-fastcgi";
              uwsgi_temp_path "{{root}}/tmp-uwsgi";
              scgi_temp_path "{{root}}/tmp-scgi";
              server {
                listen 127.0.0.1:{{port}};
                root "{{www}}";
              }
            }
            """), cancellationToken);
        return (config, ready);
    }

    private Task WaitReadyAsync(CancellationToken cancellationToken) =>
        ReferenceProcess.WaitReadyAsync(_process, "nginx", Port, _readyPath, LastLogLineAsync, cancellationToken);

    private async Task<string> LastLogLineAsync(CancellationToken cancellationToken)
    {
        var log = Path.Combine(_root, "error.log");
        return File.Exists(log)
            ? (await File.ReadAllLinesAsync(log, cancellationToken)).LastOrDefault(l => l.Length > 0) ?? "empty error log"
            : "no error log";
    }
}
