using System.IO.Pipelines;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace Registry.Hosting.Observability.Admin.GcDump;

/// <summary>
/// Watches a copy of a live heap-snapshot session for the end of the heap walk (the end of the induced,
/// blocking gen2 collection the walk runs in), so the session can be stopped as soon as the walk is
/// recorded. It reads its own copy, through an unbounded pipe: whatever happens to it (slow, failed,
/// finished early), the session's stream is drained into the file by someone else and never waits on it.
/// </summary>
internal sealed class HeapWalkWatcher
{
    private readonly int _processId;
    private readonly Pipe _pipe = new(new PipeOptions(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false));
    private readonly TaskCompletionSource<bool> _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reading;
    private volatile bool _fed = true;
    private int _walkGc = -1;

    public HeapWalkWatcher(int processId)
    {
        _processId = processId;
        _reading = Task.Run(Read);
    }

    /// <summary>True once the walk has ended; false if the stream ended, or could not be read, before that.</summary>
    public Task<bool> Ended => _ended.Task;

    /// <summary>Passes on a chunk of the session's stream. Never waits for the reader.</summary>
    public async ValueTask FeedAsync(ReadOnlyMemory<byte> chunk)
    {
        if (!_fed)
        {
            return;
        }

        try
        {
            var result = await _pipe.Writer.WriteAsync(chunk, CancellationToken.None);
            if (result.IsCompleted)
            {
                _fed = false;   // the reader is done: stop copying
            }
        }
        catch (InvalidOperationException)
        {
            _fed = false;
        }
    }

    /// <summary>Tells the reader the stream has ended, and waits for it to finish.</summary>
    public async Task CompleteAsync()
    {
        await _pipe.Writer.CompleteAsync();
        await _reading;
    }

    private void Read()
    {
        try
        {
            using var source = new EventPipeEventSource(_pipe.Reader.AsStream());
            source.Clr.GCStart += data =>
            {
                if (data.ProcessID == _processId && _walkGc < 0 && data.Depth == 2
                    && data.Type != GCType.BackgroundGC && data.Reason == GCReason.Induced)
                {
                    _walkGc = data.Count;
                }
            };
            source.Clr.GCStop += data =>
            {
                if (data.ProcessID == _processId && data.Count == _walkGc)
                {
                    _ended.TrySetResult(true);
                    source.StopProcessing();
                }
            };
            source.Process();
        }
        catch (Exception)
        {
            // A stream this reader cannot follow only means the end is not seen here: the capture
            // then runs until its time limit, and the file is still read as a whole afterwards.
        }
        finally
        {
            _pipe.Reader.Complete();
            _ended.TrySetResult(false);
        }
    }
}
