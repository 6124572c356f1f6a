namespace Registry.Hosting;

/// <summary>
/// The outermost frame of every registry process: a failure to start (bad settings, a port in use, an
/// unwritable data folder) ends the process with one clear line on standard error and exit code 1,
/// not with an unhandled-exception abort (SIGABRT, 134) and a runtime stack dump.
/// </summary>
public static class ProcessMain
{
    /// <summary>Runs <paramref name="main"/> and turns its outcome into the process exit code.</summary>
    public static async Task<int> RunAsync(string name, Func<Task> main)
    {
        ArgumentNullException.ThrowIfNull(main);
        try
        {
            await main();
            return 0;
        }
        catch (OperationCanceledException)
        {
            return 0;
        }
        catch (Exception ex)
        {
            // The last frame: whatever failed, the answer is a message and an exit code.
            await Console.Error.WriteLineAsync($"{name}: cannot run: {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
    }
}
