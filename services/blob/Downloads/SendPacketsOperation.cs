using System.Net.Sockets;
using System.Threading.Tasks.Sources;

namespace Registry.Blob.Downloads;

/// <summary>
/// An awaitable <see cref="Socket.SendPacketsAsync(SocketAsyncEventArgs)"/>, one per connection and reused for
/// every send. On Linux a file element goes out with sendfile(2) from an offset, which the public
/// Socket.SendFileAsync (whole files only) cannot do. The operation takes no token: the caller cancels it by
/// disposing the socket.
/// </summary>
internal sealed class SendPacketsOperation : SocketAsyncEventArgs, IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _source;

    public SendPacketsOperation()
        : base(unsafeSuppressExecutionContextFlow: true)
    {
        _source.RunContinuationsAsynchronously = true;
    }

    /// <summary>Sends the elements set in <see cref="SocketAsyncEventArgs.SendPacketsElements"/>; throws <see cref="SocketException"/> on failure.</summary>
    public ValueTask SendAsync(Socket socket)
    {
        _source.Reset();
        if (socket.SendPacketsAsync(this))
        {
            return new ValueTask(this, _source.Version);
        }

        return SocketError == SocketError.Success
            ? ValueTask.CompletedTask
            : ValueTask.FromException(new SocketException((int)SocketError));
    }

    void IValueTaskSource.GetResult(short token)
    {
        _source.GetResult(token);
        if (SocketError != SocketError.Success)
        {
            throw new SocketException((int)SocketError);
        }
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _source.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _source.OnCompleted(continuation, state, token, flags);

    protected override void OnCompleted(SocketAsyncEventArgs e) => _source.SetResult(true);
}
