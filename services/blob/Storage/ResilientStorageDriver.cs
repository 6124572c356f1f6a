using System.Runtime.CompilerServices;
using Prometheus;
using Registry.Hosting;
using Registry.Oci.Errors;
using Registry.Storage;

namespace Registry.Blob.Storage;

/// <summary>
/// Retries idempotent storage calls that failed with a transient error, and stops calling a storage
/// that keeps failing: after <see cref="StorageResilienceOptions.BreakerFailures"/> failed calls in a
/// row the breaker opens and every call fails at once with UNAVAILABLE (503 with Retry-After at the
/// edge) instead of queueing behind a dead mount; after <see cref="StorageResilienceOptions.BreakDuration"/>
/// one call probes the storage, and its success closes the breaker. A missing object, a cancelled call
/// and a caller's mistake are answers, not failures.
/// </summary>
internal sealed class ResilientStorageDriver : IStorageDriver
{
    private const int Closed = 0;
    private const int HalfOpen = 1;
    private const int Open = 2;

    /// <summary>The value of <see cref="State"/> while the breaker is open.</summary>
    internal const int OpenState = Open;

    private static readonly Counter Retries = Metrics.CreateCounter(
        "registry_storage_retries_total", "Storage calls made again after a transient error, by driver and operation.",
        "driver", "operation");

    private static readonly Gauge BreakerState = Metrics.CreateGauge(
        "registry_storage_breaker_state", "The storage circuit breaker: 0 closed, 1 half-open (probing), 2 open (failing fast).",
        "driver");

    private static readonly Counter BreakerOpened = Metrics.CreateCounter(
        "registry_storage_breaker_opened_total", "Times the storage circuit breaker opened.", "driver");

    private static readonly Counter BreakerRejected = Metrics.CreateCounter(
        "registry_storage_breaker_rejected_total", "Storage calls failed at once because the breaker was open.", "driver");

    private readonly IStorageDriver _inner;
    private readonly StorageResilienceOptions _options;
    private readonly TimeProvider _time;
    private readonly Gauge.Child _state;
    private readonly Counter.Child _opened;
    private readonly Counter.Child _rejected;
    private readonly Counter.Child _sizeRetries;
    private readonly Counter.Child _readRetries;
    private readonly Counter.Child _deleteRetries;
    private readonly Lock _lock = new();
    private int _breaker;
    private int _failures;
    private DateTimeOffset _openUntil;

    public ResilientStorageDriver(IStorageDriver inner, StorageResilienceOptions options, TimeProvider time)
    {
        _inner = inner;
        _options = options;
        _time = time;
        _state = BreakerState.WithLabels(inner.Name);
        _state.Set(Closed);
        _opened = BreakerOpened.WithLabels(inner.Name);
        _rejected = BreakerRejected.WithLabels(inner.Name);
        _sizeRetries = Retries.WithLabels(inner.Name, "size");
        _readRetries = Retries.WithLabels(inner.Name, "open_read");
        _deleteRetries = Retries.WithLabels(inner.Name, "delete");
    }

    public string Name => _inner.Name;

    /// <summary>The breaker's state: 0 closed, 1 half-open, 2 open (for tests).</summary>
    internal int State => Volatile.Read(ref _breaker);

    public ValueTask<long?> GetSizeAsync(string path, CancellationToken cancellationToken) =>
        RetryAsync(static (d, p, _, ct) => d.GetSizeAsync(p, ct), path, 0L, _sizeRetries, cancellationToken);

    public ValueTask<Stream> OpenReadAsync(string path, long offset, CancellationToken cancellationToken) =>
        RetryAsync(static (d, p, o, ct) => d.OpenReadAsync(p, o, ct), path, offset, _readRetries, cancellationToken);

    public async ValueTask DeleteAsync(string path, CancellationToken cancellationToken) =>
        await RetryAsync(
            static async (d, p, _, ct) =>
            {
                await d.DeleteAsync(p, ct);
                return true;
            },
            path,
            0L,
            _deleteRetries,
            cancellationToken);

    public async ValueTask<IStorageWriter> OpenWriterAsync(string path, long resumeAt, CancellationToken cancellationToken)
    {
        var probe = Enter();
        try
        {
            var writer = await _inner.OpenWriterAsync(path, resumeAt, cancellationToken);

            // An open file proves little (a full disk opens files); the commit resets the failure count.
            if (probe)
            {
                Succeeded(probe);
            }

            return new Writer(this, writer);
        }
        catch (Exception ex)
        {
            Failed(probe, ex, writing: true);
            throw;
        }
    }

    public async ValueTask MoveAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        // Not retried: after a failure the source may already be gone, and the caller knows how to check.
        var probe = Enter();
        try
        {
            await _inner.MoveAsync(sourcePath, destinationPath, cancellationToken);
            Succeeded(probe);
        }
        catch (Exception ex)
        {
            Failed(probe, ex);
            throw;
        }
    }

    public async ValueTask ReplaceAsync(string sourcePath, string destinationPath, CancellationToken cancellationToken)
    {
        // Not retried: like a move, a failure may have happened after the rename.
        var probe = Enter();
        try
        {
            await _inner.ReplaceAsync(sourcePath, destinationPath, cancellationToken);
            Succeeded(probe);
        }
        catch (Exception ex)
        {
            Failed(probe, ex);
            throw;
        }
    }

    public async IAsyncEnumerable<string> ListAsync(string folder, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var probe = Enter();
        var items = _inner.ListAsync(folder, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    if (!await items.MoveNextAsync())
                    {
                        break;
                    }
                }
                catch (Exception ex)
                {
                    Failed(probe, ex);
                    throw;
                }

                yield return items.Current;
            }

            Succeeded(probe);
        }
        finally
        {
            await items.DisposeAsync();
        }
    }

    public string? GetLocalPath(string path) => _inner.GetLocalPath(path);

    public bool IsTransient(Exception exception) => _inner.IsTransient(exception);

    private async ValueTask<T> RetryAsync<T>(
        Func<IStorageDriver, string, long, CancellationToken, ValueTask<T>> call,
        string path,
        long argument,
        Counter.Child retries,
        CancellationToken cancellationToken)
    {
        var probe = Enter();
        var delay = _options.RetryDelay;
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                var result = await call(_inner, path, argument, cancellationToken);
                Succeeded(probe);
                return result;
            }
            catch (Exception ex) when (attempt < _options.Retries && _inner.IsTransient(ex) && !cancellationToken.IsCancellationRequested)
            {
                retries.Inc();
                await Task.Delay(delay, _time, cancellationToken);
                delay *= 2;
            }
            catch (Exception ex)
            {
                Failed(probe, ex);
                throw;
            }
        }
    }

    /// <summary>Lets a call through or fails it at once; true when the call is the half-open breaker's probe.</summary>
    private bool Enter()
    {
        if (Volatile.Read(ref _breaker) == Closed)
        {
            return false;
        }

        lock (_lock)
        {
            if (_breaker == Open && _time.GetUtcNow() >= _openUntil)
            {
                SetState(HalfOpen);
                return true;
            }

            if (_breaker == Closed)
            {
                return false;
            }
        }

        _rejected.Inc();
        var wait = _openUntil - _time.GetUtcNow();
        throw new OciException(OciErrorCode.Unavailable, "the storage is failing; calls resume after a pause", $"storage driver {_inner.Name}")
        {
            RetryAfter = wait > TimeSpan.Zero ? wait : TimeSpan.FromSeconds(1),
        };
    }

    private void Succeeded(bool probe)
    {
        if (Volatile.Read(ref _failures) == 0 && !probe)
        {
            return;
        }

        lock (_lock)
        {
            _failures = 0;
            if (_breaker != Closed)
            {
                SetState(Closed);
            }
        }
    }

    /// <param name="probe">Whether the call was the half-open breaker's probe.</param>
    /// <param name="exception">What the call threw.</param>
    /// <param name="writing">
    /// A write creates its folders, so a missing folder there means the storage is broken; for the
    /// other calls it means the object is not there.
    /// </param>
    private void Failed(bool probe, Exception exception, bool writing = false)
    {
        if (exception is OperationCanceledException)
        {
            if (probe)
            {
                // The probe told nothing: the next call probes again.
                lock (_lock)
                {
                    _openUntil = _time.GetUtcNow();
                    SetState(Open);
                }
            }

            return;
        }

        // A full disk answers too: it refuses writes, and reads (pulls) must go on meanwhile. A process out of
        // file descriptors is its own shortage, not the storage's.
        if (exception is StorageNotFoundException or OciException or ArgumentException
            || (!writing && exception is FileNotFoundException or DirectoryNotFoundException)
            || StorageFull.Is(exception) || OutOfDescriptors.Is(exception))
        {
            if (probe)
            {
                // The probe got an answer: the storage responds.
                Succeeded(probe);
            }

            return;
        }

        lock (_lock)
        {
            _failures++;
            if (probe || (_breaker == Closed && _failures >= _options.BreakerFailures))
            {
                _openUntil = _time.GetUtcNow() + _options.BreakDuration;
                SetState(Open);
                _opened.Inc();
            }
        }
    }

    private void SetState(int state)
    {
        Volatile.Write(ref _breaker, state);
        _state.Set(state);
    }

    /// <summary>Counts a failed write or commit toward the breaker; writes are never retried.</summary>
    private sealed class Writer(ResilientStorageDriver owner, IStorageWriter inner) : IStorageWriter
    {
        public long Size => inner.Size;

        public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            try
            {
                await inner.WriteAsync(data, cancellationToken);
            }
            catch (Exception ex)
            {
                owner.Failed(false, ex, writing: true);
                throw;
            }
        }

        public async ValueTask CommitAsync(CancellationToken cancellationToken)
        {
            try
            {
                await inner.CommitAsync(cancellationToken);
                owner.Succeeded(false);
            }
            catch (Exception ex)
            {
                owner.Failed(false, ex, writing: true);
                throw;
            }
        }

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }
}
