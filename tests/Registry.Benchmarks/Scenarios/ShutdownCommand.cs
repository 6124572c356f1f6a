using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;

namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// The "shutdown" command: graceful shutdown under load. Starts the registry from its built DLL on a fresh
/// data directory, lets clients push blobs (monolithic, and chunked with pauses so sessions span the
/// signal), sends SIGTERM, and records how the requests in flight at that moment ended and how long the
/// process took to exit. Then it starts the registry again on the same data and checks that every blob
/// whose push was acknowledged (201) is there, and whether interrupted sessions can be resumed.
/// </summary>
internal static class ShutdownCommand
{
    public const string Usage = """
        shutdown --registry-dll PATH [--port 5300] [--clients 16] [--load 5s] [--chunk-pause 200ms] [--grace 30s]
        """;

    private const string Repository = "bench/shutdown";
    private const int BlobSize = 1024 * 1024;
    private const int Chunks = 4;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var values = ScenariosCommand.ParseArgs(args);
        if (!values.TryGetValue("registry-dll", out var dll))
        {
            await Console.Error.WriteLineAsync(Usage);
            return 2;
        }

        var port = values.TryGetValue("port", out var p) ? int.Parse(p, CultureInfo.InvariantCulture) : 5300;
        var clients = values.TryGetValue("clients", out var c) ? int.Parse(c, CultureInfo.InvariantCulture) : 16;
        var load = ScenariosCommand.Duration(values, "load", TimeSpan.FromSeconds(5));
        var chunkPause = ScenariosCommand.Duration(values, "chunk-pause", TimeSpan.FromMilliseconds(200));
        var grace = ScenariosCommand.Duration(values, "grace", TimeSpan.FromSeconds(30));
        var dataDir = Directory.CreateTempSubdirectory("regbench-shutdown-").FullName;
        var target = new RegistryTarget("ours", new Uri($"http://127.0.0.1:{port}"), [], null);
        try
        {
            var registry = await StartAsync(dll, port, dataDir, grace, target, cancellationToken);
            Console.WriteLine($"registry pid {registry.Id} on {target.BaseUri}, data {dataDir}, grace {grace.TotalSeconds}s");

            var outcomes = new Outcomes();
            using var stopLoad = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var signalledAt = new StrongBox<long>();
            var workers = Enumerable.Range(0, clients)
                .Select(i => Task.Run(() => WorkAsync(target, i, i % 2 == 1, chunkPause, signalledAt, outcomes, stopLoad.Token), CancellationToken.None))
                .ToArray();

            await Task.Delay(load, cancellationToken);
            var inFlight = outcomes.InFlight;
            Volatile.Write(ref signalledAt.Value, Stopwatch.GetTimestamp());
            using (var kill = Process.Start("kill", ["-TERM", registry.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(cancellationToken);
            }

            using var exitWait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            exitWait.CancelAfter(grace + TimeSpan.FromSeconds(30));
            await registry.WaitForExitAsync(exitWait.Token);
            var exitSeconds = Stopwatch.GetElapsedTime(Volatile.Read(ref signalledAt.Value)).TotalSeconds;
            var exitCode = registry.ExitCode;
            await stopLoad.CancelAsync();
            await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);

            // Everything acknowledged must have survived; interrupted sessions should still answer.
            var again = await StartAsync(dll, port, dataDir, grace, target, cancellationToken);
            int lost = 0, resumable = 0;
            using (var checker = new OciClient(target))
            {
                foreach (var digest in outcomes.Acknowledged)
                {
                    if (!await checker.HasBlobAsync(Repository, digest, cancellationToken))
                    {
                        lost++;
                    }
                }

                foreach (var location in outcomes.Interrupted)
                {
                    if (await checker.UploadStatusAsync(location, cancellationToken) == 204)
                    {
                        resumable++;
                    }
                }
            }

            using (var kill = Process.Start("kill", ["-TERM", again.Id.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync(cancellationToken);
            }

            await again.WaitForExitAsync(cancellationToken);

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""

                graceful shutdown under load ({clients} clients, half monolithic 1 MiB pushes, half chunked {Chunks}x256 KiB with {chunkPause.TotalMilliseconds} ms pauses)
                  requests in flight at SIGTERM:          {inFlight}
                  of those, answered successfully:        {outcomes.SpanningOk}
                  of those, failed:                       {outcomes.SpanningFailed} {outcomes.FailureKinds}
                  requests started after SIGTERM:         {outcomes.AfterOk} ok, {outcomes.AfterFailed} refused or failed
                  exit after SIGTERM:                     {exitSeconds:F2} s (exit code {exitCode}; grace {grace.TotalSeconds} s)
                  pushes acknowledged (201):              {outcomes.Acknowledged.Count}
                  acknowledged blobs missing on restart:  {lost}
                  interrupted sessions, resumable (204):  {resumable} of {outcomes.Interrupted.Count}
                """));
            return lost == 0 && outcomes.SpanningFailed == 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    private static async Task WorkAsync(
        RegistryTarget target,
        int worker,
        bool chunked,
        TimeSpan chunkPause,
        StrongBox<long> signalledAt,
        Outcomes outcomes,
        CancellationToken cancellationToken)
    {
        var blob = new byte[BlobSize];
        RandomNumberGenerator.Fill(blob);
        using var client = new OciClient(target);
        for (long sequence = 0; !cancellationToken.IsCancellationRequested; sequence++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(blob, worker);
            BinaryPrimitives.WriteInt64LittleEndian(blob.AsSpan(4), sequence);
            var digest = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(blob));
            string? location = null;
            try
            {
                (location, var error) = await Tracked(outcomes, signalledAt, () => client.StartUploadAsync(Repository, cancellationToken));
                if (location is null)
                {
                    return;
                }

                if (chunked)
                {
                    var chunkSize = BlobSize / Chunks;
                    for (var offset = 0; offset < BlobSize; offset += chunkSize)
                    {
                        await Task.Delay(chunkPause, cancellationToken);
                        var at = offset;
                        (var next, error) = await Tracked(outcomes, signalledAt, () => client.PatchAsync(location, blob.AsMemory(at, chunkSize), at, cancellationToken));
                        if (next is null)
                        {
                            outcomes.Interrupt(location);
                            return;
                        }

                        location = next;
                    }

                    (_, error) = await Tracked(outcomes, signalledAt, () => client.FinishAsync(location, digest, default, cancellationToken));
                }
                else
                {
                    (_, error) = await Tracked(outcomes, signalledAt, () => client.FinishAsync(location, digest, blob, cancellationToken));
                }

                if (error is not null)
                {
                    outcomes.Interrupt(location);
                    return;
                }

                outcomes.Acknowledge(digest);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or InvalidOperationException)
            {
                if (location is not null && chunked)
                {
                    outcomes.Interrupt(location);
                }

                return;
            }
        }
    }

    // Runs one request, noting whether it spans the signal (started before, answered after) and how it ended.
    private static async Task<(T Value, string? Error)> Tracked<T>(Outcomes outcomes, StrongBox<long> signalledAt, Func<ValueTask<(T, string?)>> request)
    {
        var startedBefore = Volatile.Read(ref signalledAt.Value) == 0;
        outcomes.Enter();
        try
        {
            var (value, error) = await request();
            outcomes.Record(startedBefore, Volatile.Read(ref signalledAt.Value) != 0, error);
            return (value, error);
        }
        catch (Exception ex)
        {
            outcomes.Record(startedBefore, Volatile.Read(ref signalledAt.Value) != 0, ex.GetType().Name);
            throw;
        }
        finally
        {
            outcomes.Leave();
        }
    }

    private static async Task<Process> StartAsync(string dll, int port, string dataDir, TimeSpan grace, RegistryTarget target, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in new[]
        {
            dll, "--urls", $"http://127.0.0.1:{port}", "--data-dir", dataDir,
            "--Registry:ShutdownGracePeriod", grace.ToString("c", CultureInfo.InvariantCulture),
            "--Serilog:MinimumLevel:Default", "Warning",
        })
        {
            info.ArgumentList.Add(arg);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the registry");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = Stopwatch.GetTimestamp() + (long)(StartTimeout.TotalSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"the registry exited at start with code {process.ExitCode}");
            }

            try
            {
                using var probe = new OciClient(target);
                if (await probe.PingAsync(cancellationToken))
                {
                    return process;
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException)
            {
            }

            await Task.Delay(200, cancellationToken);
        }

        process.Kill();
        throw new TimeoutException("the registry did not answer /v2/ within a minute");
    }

    private sealed class Outcomes
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);
        private int _inFlight;

        public List<string> Acknowledged { get; } = [];

        public List<string> Interrupted { get; } = [];

        public int InFlight => Volatile.Read(ref _inFlight);

        public int SpanningOk { get; private set; }

        public int SpanningFailed { get; private set; }

        public int AfterOk { get; private set; }

        public int AfterFailed { get; private set; }

        public string FailureKinds
        {
            get
            {
                lock (_lock)
                {
                    return _failures.Count == 0 ? string.Empty : "(" + string.Join(", ", _failures.Select(f => $"{f.Key}: {f.Value}")) + ")";
                }
            }
        }

        public void Enter() => Interlocked.Increment(ref _inFlight);

        public void Leave() => Interlocked.Decrement(ref _inFlight);

        public void Record(bool startedBefore, bool endedAfter, string? error)
        {
            lock (_lock)
            {
                if (startedBefore && endedAfter)
                {
                    if (error is null)
                    {
                        SpanningOk++;
                    }
                    else
                    {
                        SpanningFailed++;
                        _failures[error] = _failures.GetValueOrDefault(error) + 1;
                    }
                }
                else if (!startedBefore)
                {
                    if (error is null)
                    {
                        AfterOk++;
                    }
                    else
                    {
                        AfterFailed++;
                    }
                }
            }
        }

        public void Acknowledge(string digest)
        {
            lock (_lock)
            {
                Acknowledged.Add(digest);
            }
        }

        public void Interrupt(string location)
        {
            lock (_lock)
            {
                Interrupted.Add(location);
            }
        }
    }
}
