using System.Diagnostics;
using System.Globalization;
using System.Net;
using Registry.Benchmarks.Http;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// What the reference servers the runner starts (docker-registry, nginx) share: waiting until one answers
/// on its port, and stopping it by its PID with its folder deleted.
/// </summary>
internal static class ReferenceProcess
{
    private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan StopWithin = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Waits until a just-started server is ready. When it is not (it failed, timed out or the run was
    /// cancelled), stops it and deletes its folder before the exception goes on, since no caller holds it yet.
    /// </summary>
    public static async Task<T> ReadyOrStoppedAsync<T>(T server, Func<T, CancellationToken, Task> waitReady, CancellationToken cancellationToken)
        where T : IAsyncDisposable
    {
        try
        {
            await waitReady(server, cancellationToken);
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Asks GET <paramref name="path"/> on 127.0.0.1:<paramref name="port"/> until it answers 200 while
    /// <paramref name="process"/> still runs. Throws when the process exits (with <paramref name="whyExited"/>)
    /// or nothing answers within 10 s; each attempt is bounded, so a listener that accepts and never
    /// answers cannot hold the run.
    /// </summary>
    public static async Task WaitReadyAsync(
        Process process, string name, int port, string path, Func<CancellationToken, Task<string>> whyExited, CancellationToken cancellationToken)
    {
        var endPoint = new IPEndPoint(IPAddress.Loopback, port);
        var request = RawRequest.Build("GET", path, $"127.0.0.1:{port}");
        var last = "no answer";
        var deadline = Stopwatch.GetTimestamp() + (long)(ReadyWithin.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{name} exited with {process.ExitCode}: {await whyExited(cancellationToken)}");
            }

            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(AttemptTimeout);
            try
            {
                using var connection = new RawHttpConnection(endPoint);
                var response = await connection.SendAsync(request, default, false, false, null, attempt.Token);
                if (response.Status == 200 && !process.HasExited)
                {
                    return;
                }

                last = $"status {response.Status}";
            }
            catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException)
            {
                // Not listening yet.
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                last = "a listener that did not answer within 1 s";
            }

            await Task.Delay(100, cancellationToken);
        }

        throw new TimeoutException($"{name} on :{port} did not answer GET {path} with 200 within 10 s ({last})");
    }

    /// <summary>
    /// Sends <paramref name="signal"/> (e.g. "-TERM") to the process by its PID, kills it if it is still
    /// there after 5 s, and deletes <paramref name="folder"/>.
    /// </summary>
    public static async Task StopAsync(Process process, string signal, string folder)
    {
        if (!process.HasExited)
        {
            // It may exit between the check and the signal: kill's complaint about that is not shown.
            var start = new ProcessStartInfo("kill", [signal, process.Id.ToString(CultureInfo.InvariantCulture)])
            {
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using (var kill = Process.Start(start))
            {
                if (kill is not null)
                {
                    await kill.WaitForExitAsync();
                }
            }

            using var wait = new CancellationTokenSource(StopWithin);
            try
            {
                await process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync();
            }
        }

        process.Dispose();
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
            // Left for the temp cleaner; the path is printed at start.
        }
    }
}
