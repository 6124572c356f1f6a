using System.Diagnostics;
using System.Runtime.CompilerServices;
using Prometheus;
using Registry.Hosting.Observability;
using Registry.Storage;

namespace Registry.Blob.Storage;

/// <summary>
/// Wraps a storage driver with metrics (latency and errors by driver and operation) and spans (one per
/// call, in the request's trace). A missing path is an answer, not an error; a cancelled call is
/// neither. Reads are timed to the open, writes to the commit: the bytes flow at the client's pace.
/// </summary>
internal sealed class InstrumentedStorageDriver : IStorageDriver
{
    private static readonly string[] OperationNames = ["size", "open_read", "open_writer", "commit", "move", "delete", "list", "replace"];

    private static readonly string[] SpanNames =
        ["storage size", "storage open_read", "storage open_writer", "storage commit", "storage move", "storage delete", "storage list", "storage replace"];

    private static readonly Histogram Durations = Metrics.CreateHistogram(
        "registry_storage_operation_duration_seconds", "Storage driver call duration, in seconds, by driver and operation.",
        new HistogramConfiguration
        {
            LabelNames = ["driver", "operation"],
            Buckets = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
        });

    private static readonly Counter Errors = Metrics.CreateCounter(
        "registry_storage_errors_total", "Storage driver calls that failed (not found and cancelled excluded), by driver and operation.",
        "driver", "operation");

    private readonly IStorageDriver _inner;
    private readonly Histogram.Child[] _durations;
    private readonly Counter.Child[] _errors;

    public InstrumentedStorageDriver(IStorageDriver inner)
    {
        _inner = inner;
        _durations = Array.ConvertAll(OperationNames, op => Durations.WithLabels(inner.Name, op));
        _errors = Array.ConvertAll(OperationNames, op => Errors.WithLabels(inner.Name, op));
    }

    private enum Op
    {
        Size,
        OpenRead,
        OpenWriter,
        Commit,
        Move,
        Delete,
        List,
        Replace,
    }

    public string Name => _inner.Name;

    public async ValueTask<long?> GetSizeAsync(string path, CancellationToken cancellationToken)
    {
        var call = Start(Op.Size);
        try
        {
            return await _inner.GetSizeAsync(path, cancellationToken);
        }
        catch (Exception ex)
        {
            Failed(Op.Size, call, ex);
            throw;
        }
        finally
        {
            Finish(Op.Size, call);
        }
    }

    public async ValueTask<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken)
    {
        var call = Start(Op.OpenRead);
        try
        {
            return await _inner.OpenReadAsync(path, offset, cancellationToken);
        }
        catch (Exception ex)
        {
            Failed(Op.OpenRead, call, ex);
            throw;
        }
        finally
        {
            Finish(Op.OpenRead, call);
        }
    }

    public async ValueTask<IStorageWriter> OpenWriterAsync(string path, long resumeAt, CancellationToken cancellationToken)
    {
        var call = Start(Op.OpenWriter);
        try
        {
            return new Writer(this, await _inner.OpenWriterAsync(path, resumeAt, cancellationToken));
        }
        catch (Exception ex)
        {
            Failed(Op.OpenWriter, call, ex);
            throw;
        }
        finally
        {
            Finish(Op.OpenWriter, call);
        }
    }

    public async ValueTask MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        var call = Start(Op.Move);
        try
        {
            await _inner.MoveAsync(sourcePath, destinationPath, cancellationToken);
        }
        catch (Exception ex)
        {
            Failed(Op.Move, call, ex);
            throw;
        }
        finally
        {
            Finish(Op.Move, call);
        }
    }

    public async ValueTask ReplaceAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        var call = Start(Op.Replace);
        try
        {
            await _inner.ReplaceAsync(sourcePath, destinationPath, cancellationToken);
        }
        catch (Exception ex)
        {
            Failed(Op.Replace, call, ex);
            throw;
        }
        finally
        {
            Finish(Op.Replace, call);
        }
    }

    public async ValueTask DeleteAsync(string path, CancellationToken cancellationToken)
    {
        var call = Start(Op.Delete);
        try
        {
            await _inner.DeleteAsync(path, cancellationToken);
        }
        catch (Exception ex)
        {
            Failed(Op.Delete, call, ex);
            throw;
        }
        finally
        {
            Finish(Op.Delete, call);
        }
    }

    public async IAsyncEnumerable<string> ListAsync(string folder, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // Timed to the end of the listing; the caller's work between items is included.
        var call = Start(Op.List);
        try
        {
            await foreach (var item in _inner.ListAsync(folder, cancellationToken))
            {
                yield return item;
            }
        }
        finally
        {
            Finish(Op.List, call);
        }
    }

    public string? GetLocalPath(string path) => _inner.GetLocalPath(path);

    public bool IsTransient(Exception exception) => _inner.IsTransient(exception);

    private (long Started, Activity? Span) Start(Op op)
    {
        var span = RegistryTracing.Source.HasListeners() ? RegistryTracing.Source.StartActivity(SpanNames[(int)op]) : null;
        span?.SetTag("storage.driver", _inner.Name);
        return (Stopwatch.GetTimestamp(), span);
    }

    private void Failed(Op op, (long Started, Activity? Span) call, Exception exception)
    {
        // A write creates its folders: a missing one there is a broken storage, not a missing object.
        var writing = op is Op.OpenWriter or Op.Commit;
        if (exception is StorageNotFoundException or OperationCanceledException
            || (!writing && exception is FileNotFoundException or DirectoryNotFoundException))
        {
            return;
        }

        _errors[(int)op].Inc();
        call.Span?.SetStatus(ActivityStatusCode.Error, exception.GetType().Name);
    }

    private void Finish(Op op, (long Started, Activity? Span) call)
    {
        _durations[(int)op].Observe(Stopwatch.GetElapsedTime(call.Started).TotalSeconds);
        call.Span?.Dispose();
    }

    /// <summary>Times the commit of a written object.</summary>
    private sealed class Writer(InstrumentedStorageDriver owner, IStorageWriter inner) : IStorageWriter
    {
        public long Size => inner.Size;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) => inner.WriteAsync(data, cancellationToken);

        public async ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            var call = owner.Start(Op.Commit);
            try
            {
                await inner.CommitAsync(cancellationToken);
            }
            catch (Exception ex)
            {
                owner.Failed(Op.Commit, call, ex);
                throw;
            }
            finally
            {
                owner.Finish(Op.Commit, call);
            }
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
