using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Registry.Hosting.Observability;

/// <summary>
/// Counts and times the unary and client-streaming calls a process makes to the services, by method
/// and status code (DeadlineExceeded among them). The wrappers pass the call itself as state to
/// static delegates, so the only allocation per call is the task that waits for the response.
/// </summary>
// TODO: server-streaming calls (blob downloads over gRPC) are measured on the service side only.
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
}
