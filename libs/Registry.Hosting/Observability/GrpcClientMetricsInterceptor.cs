using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Registry.Hosting.Observability;

/// <summary>
/// Counts and times the calls a process makes to the services, by method and status code
/// (DeadlineExceeded among them). The unary and client-streaming wrappers pass the call itself as
/// state to static delegates, so the only allocation per call is the task that waits for the
/// response; a server-streaming call (a blob read over gRPC) is recorded when its reader reaches the
/// end, fails, or is disposed before the end (Cancelled).
/// </summary>
public sealed class GrpcClientMetricsInterceptor : Interceptor
{
    /// <inheritdoc />
    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncUnaryCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var start = Stopwatch.GetTimestamp();
        var call = continuation(request, context);
        return new AsyncUnaryCall<TResponse>(
            ObserveAsync(call.ResponseAsync, context.Method.FullName, start),
            static state => ((AsyncUnaryCall<TResponse>)state).ResponseHeadersAsync,
            static state => ((AsyncUnaryCall<TResponse>)state).GetStatus(),
            static state => ((AsyncUnaryCall<TResponse>)state).GetTrailers(),
            static state => ((AsyncUnaryCall<TResponse>)state).Dispose(),
            call);
    }

    /// <inheritdoc />
    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncClientStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var start = Stopwatch.GetTimestamp();
        var call = continuation(context);
        return new AsyncClientStreamingCall<TRequest, TResponse>(
            call.RequestStream,
            ObserveAsync(call.ResponseAsync, context.Method.FullName, start),
            static state => ((AsyncClientStreamingCall<TRequest, TResponse>)state).ResponseHeadersAsync,
            static state => ((AsyncClientStreamingCall<TRequest, TResponse>)state).GetStatus(),
            static state => ((AsyncClientStreamingCall<TRequest, TResponse>)state).GetTrailers(),
            static state => ((AsyncClientStreamingCall<TRequest, TResponse>)state).Dispose(),
            call);
    }

    /// <inheritdoc />
    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        TRequest request,
        ClientInterceptorContext<TRequest, TResponse> context,
        AsyncServerStreamingCallContinuation<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(continuation);
        var start = Stopwatch.GetTimestamp();
        var call = continuation(request, context);
        var reader = new ObservedReader<TResponse>(call.ResponseStream, context.Method.FullName, start);
        return new AsyncServerStreamingCall<TResponse>(
            reader,
            call.ResponseHeadersAsync,
            call.GetStatus,
            call.GetTrailers,
            () =>
            {
                reader.RecordUnfinished();
                call.Dispose();
            });
    }

    private static async Task<TResponse> ObserveAsync<TResponse>(Task<TResponse> response, string method, long start)
    {
        try
        {
            var value = await response;
            GrpcMetrics.Client.Record(method, StatusCode.OK, start);
            return value;
        }
        catch (Exception ex)
        {
            GrpcMetrics.Client.Record(method, GrpcMetrics.CodeOf(ex), start);
            throw;
        }
    }

    /// <summary>Passes the messages through and records the call once, when it ends one way or another.</summary>
    private sealed class ObservedReader<TResponse>(IAsyncStreamReader<TResponse> inner, string method, long start)
        : IAsyncStreamReader<TResponse>
    {
        private int _recorded;

        public TResponse Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            try
            {
                var more = await inner.MoveNext(cancellationToken).ConfigureAwait(false);
                if (!more)
                {
                    Record(StatusCode.OK);
                }

                return more;
            }
            catch (Exception ex)
            {
                Record(GrpcMetrics.CodeOf(ex));
                throw;
            }
        }

        /// <summary>The caller let go of the call before its end: the call was cancelled.</summary>
        public void RecordUnfinished() => Record(StatusCode.Cancelled);

        private void Record(StatusCode code)
        {
            if (Interlocked.Exchange(ref _recorded, 1) == 0)
            {
                GrpcMetrics.Client.Record(method, code, start);
            }
        }
    }
}
