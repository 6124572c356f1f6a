using System.Diagnostics;

namespace Registry.EndToEndTests.Support;

/// <summary>Runs real client binaries (skopeo, podman, umoci) with a hard timeout and captured output.</summary>
public static class ExternalTool
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(3);

    /// <summary>Absolute path of a tool on PATH; fails the test (never skips) when it is missing.</summary>
    public static string Require(string name)
    {
        var path = Find(name);
        Assert.True(path is not null, $"Required tool '{name}' was not found on PATH. Run scripts/setup.sh (as root) to install the end-to-end test dependencies.");
        return path!;
    }

    public static string? Find(string name)
    {
        var dirs = (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]);
        foreach (var dir in dirs)
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    public static async Task<ProcessResult> RunAsync(
        string tool,
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null)
    {
        var file = Require(tool);
        var args = arguments.ToList();
        var limit = timeout ?? DefaultTimeout;
        var commandLine = tool + " " + string.Join(' ', args.Select(Quote));

        var info = new ProcessStartInfo(file)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            info.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                info.Environment[k] = v;
            }
        }

        using var process = new Process { StartInfo = info };
        var clock = Stopwatch.StartNew();
        process.Start();
        process.StandardInput.Close();

        // stdout is kept byte-exact (raw manifests are compared by digest); stderr as text.
        var stdoutBuffer = new MemoryStream();
        var stdoutTask = process.StandardOutput.BaseStream.CopyToAsync(stdoutBuffer);
        var stderrTask = process.StandardError.ReadToEndAsync();

        var timedOut = false;
        using (var cts = new CancellationTokenSource(limit))
        {
            try
            {
                await process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                timedOut = true;
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (InvalidOperationException)
                {
                    // already gone
                }
            }
        }

        // Readers end when every holder of the pipes has exited; never wait for that unbounded.
        var readers = Task.WhenAll(stdoutTask, stderrTask);
        await Task.WhenAny(readers, Task.Delay(TimeSpan.FromSeconds(15))).ConfigureAwait(false);
        var stdoutBytes = stdoutTask.IsCompletedSuccessfully ? stdoutBuffer.ToArray() : [];
        var stderrText = stderrTask.IsCompletedSuccessfully ? await stderrTask.ConfigureAwait(false) : "(stderr not collected: a child process kept the pipe open)";
        var exitCode = process.HasExited ? process.ExitCode : -1;
        return new ProcessResult(commandLine, timedOut ? -1 : exitCode, stdoutBytes, stderrText, clock.Elapsed, timedOut);
    }

    private static string Quote(string a) => a.Length > 0 && a.All(c => !char.IsWhiteSpace(c) && c != '\'' && c != '"') ? a : "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
