using System.Diagnostics;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace Registry.Hosting.Observability;

/// <summary>
/// Counts and times every call a service answers. Registered first, so it sees the status the other
/// interceptors turned exceptions into.
/// </summary>
public sealed class GrpcServerMetricsInterceptor : Interceptor
{
    /// <inheritdoc />
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var start = Stopwatch.GetTimestamp();
        try
        {
            var response = await continuation(request, context);
            GrpcMetrics.Server.Record(context.Method, StatusCode.OK, start);
            return response;
        }
        catch (Exception ex)
        {
            GrpcMetrics.Server.Record(context.Method, GrpcMetrics.CodeOf(ex), start);
            throw;
        }
    }

    /// <inheritdoc />
    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context,
        ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var start = Stopwatch.GetTimestamp();
        try
        {
            var response = await continuation(requestStream, context);
            GrpcMetrics.Server.Record(context.Method, StatusCode.OK, start);
            return response;
        }
        catch (Exception ex)
        {
            GrpcMetrics.Server.Record(context.Method, GrpcMetrics.CodeOf(ex), start);
            throw;
        }
    }

    /// <inheritdoc />
    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(continuation);
        var start = Stopwatch.GetTimestamp();
        try
        {
            await continuation(request, responseStream, context);
            GrpcMetrics.Server.Record(context.Method, StatusCode.OK, start);
        }
        catch (Exception ex)
        {
            GrpcMetrics.Server.Record(context.Method, GrpcMetrics.CodeOf(ex), start);
            throw;
        }
    }
}
