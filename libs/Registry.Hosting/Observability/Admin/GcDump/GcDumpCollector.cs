using System.Buffers;
using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing.Parsers;
using Microsoft.Extensions.Logging;

namespace Registry.Hosting.Observability.Admin.GcDump;

/// <summary>
/// Records the runtime's heap walk of this process into a .nettrace file, through the diagnostics port
/// (as dotnet-gcdump does from outside): a session with the runtime's heap-snapshot keywords makes the
/// runtime run an induced, blocking gen2 collection that reports every live object, reference and root.
/// The session is stopped once that collection has ended, or at the time limit, or when the caller
/// cancels; in every case its stream is read to the end, because a session nobody reads blocks every
/// thread of the process that raises an event.
/// </summary>
internal sealed partial class GcDumpCollector
{
    // The rundown at the end of the session is asked for module names only (loader + end of rundown),
    // not the method tables a CPU trace needs: types name their module by id, the rundown maps ids to files.
    private const long ModuleRundownKeywords = 0x8 | 0x100;

    // Bounds for the steps after the walk: the rundown of a few hundred modules takes well under a second.
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(30);

    private readonly ILogger _logger;

    public GcDumpCollector(ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
    }

    /// <summary>
    /// Writes the session to <paramref name="nettracePath"/>; true when the heap walk ended within
    /// <paramref name="timeout"/> (false also when <paramref name="cancellationToken"/> fired first).
    /// </summary>
    public async Task<bool> RecordHeapWalkAsync(string nettracePath, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var processId = Environment.ProcessId;
        var client = new DiagnosticsClient(processId);

        // The runtime names a type once, then remembers it was named until no session asks for type
        // events any more; it checks that when a session that enables the runtime provider starts or
        // stops. A session with the runtime's GC keyword alone (no type events) makes that check, so the
        // types an earlier session saw are forgotten and named again in ours.
        await ResetTypeNamesAsync(client, cancellationToken);

        EventPipeProvider[] providers =
        [
            new("Microsoft-Windows-DotNETRuntime", EventLevel.Verbose, (long)ClrTraceEventParser.Keywords.GCHeapSnapshot),
        ];
        var configuration = new EventPipeSessionConfiguration(providers, circularBufferSizeMB: 256, ModuleRundownKeywords, requestStackwalk: false);
        using var session = await client.StartEventPipeSessionAsync(configuration, cancellationToken);
        var watcher = new HeapWalkWatcher(processId);
        var ended = false;
        Task drain;
        await using (var file = new FileStream(nettracePath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
        {
            drain = DrainAsync(session.EventStream, file, watcher);
            try
            {
                ended = await watcher.Ended.WaitAsync(timeout, cancellationToken);
            }
            catch (TimeoutException)
            {
                Log.HeapWalkTimedOut(_logger, (int)timeout.TotalSeconds);
            }
            catch (OperationCanceledException)
            {
                // The client left: stop now, but still read the stream to its end below.
            }
            finally
            {
                await StopAsync(session);
            }

            await FinishDrainAsync(session, drain);
        }

        await watcher.CompleteAsync();

        // The same again now that the heap session has ended, so that a later capture from outside
        // (dotnet-gcdump collect) is not left with type ids it never saw named.
        await ResetTypeNamesAsync(client, CancellationToken.None);
        return ended && !cancellationToken.IsCancellationRequested;
    }

    private async Task ResetTypeNamesAsync(DiagnosticsClient client, CancellationToken cancellationToken)
    {
        EventPipeProvider[] providers =
        [
            new("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, (long)ClrTraceEventParser.Keywords.GC),
        ];
        using var session = await client.StartEventPipeSessionAsync(providers, requestRundown: false, circularBufferMB: 16, cancellationToken);
        var drain = session.EventStream.CopyToAsync(Stream.Null, CancellationToken.None);
        await StopAsync(session);
        await FinishDrainAsync(session, drain);
    }

    // Reads the session's stream to its end, whatever happens to the copies: a file that cannot be
    // written any more is given up on, but the reading goes on until the runtime closes the stream.
    private async Task DrainAsync(Stream events, FileStream file, HeapWalkWatcher watcher)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(1 << 16);
        var writeFile = true;
        try
        {
            int read;
            while ((read = await events.ReadAsync(buffer, CancellationToken.None)) > 0)
            {
                var chunk = buffer.AsMemory(0, read);
                if (writeFile)
                {
                    try
                    {
                        await file.WriteAsync(chunk, CancellationToken.None);
                    }
                    catch (IOException e)
                    {
                        writeFile = false;
                        Log.CaptureFileFailed(_logger, e);
                    }
                }

                await watcher.FeedAsync(chunk);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task StopAsync(EventPipeSession session)
    {
        using var limit = new CancellationTokenSource(StopTimeout);
        try
        {
            await session.StopAsync(limit.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ServerNotAvailableException or UnsupportedCommandException or ServerErrorException)
        {
            Log.CaptureStopFailed(_logger, e);
        }
    }

    // Stopping ends the stream (after the rundown), which ends the drain. Should the runtime never close
    // it, disposing the session closes our end, which ends the drain with an error instead of a hang.
    private async Task FinishDrainAsync(EventPipeSession session, Task drain)
    {
        try
        {
            await drain.WaitAsync(StopTimeout);
        }
        catch (TimeoutException)
        {
            session.Dispose();
            try
            {
                await drain;
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                Log.CaptureStopFailed(_logger, e);
            }
        }
    }
}
