using System.Runtime.InteropServices;

namespace Registry.Hosting;

/// <summary>
/// The outermost frame of every registry process: a failure to start (bad settings, a port in use, an
/// unwritable data folder) ends the process with one clear line on standard error and exit code 1,
/// not with an unhandled-exception abort (SIGABRT, 134) and a runtime stack dump. It also owns the
/// ways out of a process that can no longer serve: <see cref="RequestExit"/> (a graceful stop with a
/// failing exit status) and the backstop that ends a shutdown that does not finish.
/// </summary>
public static partial class ProcessMain
{
    private static readonly ManualResetEventSlim BackstopArmed = new();
    private static int _running;
    private static long _backstopAfterMs;

    /// <summary>Runs <paramref name="main"/> and turns its outcome into the process exit code.</summary>
    public static async Task<int> RunAsync(string name, Func<Task> main)
    {
        ArgumentNullException.ThrowIfNull(main);
        Volatile.Write(ref _running, 1);
        try
        {
            await main();
            return Environment.ExitCode;
        }
        catch (OperationCanceledException)
        {
            return Environment.ExitCode;
        }
        catch (Exception ex)
        {
            // The last frame: whatever failed, the answer is a message and an exit code.
            await Console.Error.WriteLineAsync($"{name}: cannot run: {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
    }

    /// <summary>
    /// Stops this registry process as SIGTERM would, then exits with <paramref name="exitCode"/>, so that a
    /// supervisor restarts it. Does nothing outside a process run by <see cref="RunAsync"/> (a registry
    /// hosted inside tests); true when the stop was asked for.
    /// </summary>
    public static bool RequestExit(int exitCode)
    {
        if (Volatile.Read(ref _running) == 0)
        {
            return false;
        }

        Environment.ExitCode = exitCode;
        if (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
        {
            _ = Kill(Environment.ProcessId, 15); // SIGTERM: the host's graceful stop
        }
        else
        {
            Environment.Exit(exitCode);
        }

        return true;
    }

    /// <summary>
    /// Starts the shutdown backstop: once <see cref="ArmBackstop"/> is called, a process still running
    /// <paramref name="name"/>'s shutdown after the time given ends at once (fail-fast). Its thread is
    /// made now, while memory is plentiful; it waits without using the thread pool.
    /// </summary>
    public static void StartBackstop(string name)
    {
        var thread = new Thread(() =>
        {
            BackstopArmed.Wait();
            Thread.Sleep(TimeSpan.FromMilliseconds(Volatile.Read(ref _backstopAfterMs)));
            Environment.FailFast($"{name}: the shutdown did not finish within {Volatile.Read(ref _backstopAfterMs) / 1000} s of its start; ending the process");
        })
        {
            IsBackground = true,
            Name = "shutdown backstop",
        };
        thread.Start();
    }

    /// <summary>Arms the backstop: the process has <paramref name="after"/> to finish its shutdown.</summary>
    public static void ArmBackstop(TimeSpan after)
    {
        Volatile.Write(ref _backstopAfterMs, (long)after.TotalMilliseconds);
        BackstopArmed.Set();
    }

    [LibraryImport("libc", EntryPoint = "kill")]
    private static partial int Kill(int pid, int signal);
}
