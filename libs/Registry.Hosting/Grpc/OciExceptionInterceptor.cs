using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;
using Registry.Oci.Errors;

namespace Registry.Hosting.Grpc;

/// <summary>
/// Turns the exceptions service code throws into gRPC statuses: OCI errors into statuses that carry
/// them, cancellation into Cancelled, a full disk into the 507 the client gets for it (<see cref="StorageFull"/>),
/// a want of file descriptors or of heap into UNAVAILABLE,
/// anything else into Internal (logged, detail withheld).
/// </summary>
public sealed partial class OciExceptionInterceptor : Interceptor
{
    private readonly ILogger<OciExceptionInterceptor> _logger;

    public OciExceptionInterceptor(ILogger<OciExceptionInterceptor> logger)
    {
        _logger = logger;
    }

    /// <inheritdoc />
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request,
        ServerCallContext context,
        UnaryServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(request, context);
        }
        catch (Exception ex) when (Translate(ex, context) is { } translated)
        {
            throw translated;
        }
    }

    /// <inheritdoc />
    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream,
        ServerCallContext context,
        ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            return await continuation(requestStream, context);
        }
        catch (Exception ex) when (Translate(ex, context) is { } translated)
        {
            throw translated;
        }
    }

    /// <inheritdoc />
    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        try
        {
            await continuation(request, responseStream, context);
        }
        catch (Exception ex) when (Translate(ex, context) is { } translated)
        {
            throw translated;
        }
    }

    private RpcException? Translate(Exception exception, ServerCallContext context)
    {
        switch (exception)
        {
            case RpcException:
                return null;
            case OciException oci:
                Log.OciError(_logger, context.Method, oci.Code.Name(), oci.Message);
                return OciStatus.ToRpcException(oci);
            case CallerGoneException:
            case OperationCanceledException when context.CancellationToken.IsCancellationRequested:
                Log.CallCancelled(_logger, context.Method);
                return new RpcException(new Status(StatusCode.Cancelled, "call cancelled"));
            case OutOfMemoryException:
                // At a heap limit: the caller may try again once the burst has passed.
                Log.OutOfMemory(_logger, context.Method);
                return OciStatus.ToRpcException(new OciException(OciErrorCode.Unavailable, "the registry is short of memory; retry later",
                    httpStatus: 503) { RetryAfter = TimeSpan.FromSeconds(1) });
            case var _ when StorageFull.Is(exception):
                Log.StorageFull(_logger, context.Method, exception.Message);
                return OciStatus.ToRpcException(StorageFull.Answer(exception));
            case var _ when OutOfDescriptors.Is(exception):
                Log.OutOfDescriptors(_logger, context.Method, exception.Message);
                return OciStatus.ToRpcException(OutOfDescriptors.Answer());
            default:
                Log.UnhandledError(_logger, context.Method, exception);
                return new RpcException(new Status(StatusCode.Internal, "internal error"));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 100, EventName = "OciError", Level = LogLevel.Debug,
            Message = "{Method} answered {OciCode}: {Reason}")]
        public static partial void OciError(ILogger logger, string method, string ociCode, string reason);

        [LoggerMessage(EventId = 101, EventName = "CallCancelled", Level = LogLevel.Information,
            Message = "{Method} was cancelled by its caller")]
        public static partial void CallCancelled(ILogger logger, string method);

        [LoggerMessage(EventId = 102, EventName = "UnhandledError", Level = LogLevel.Error,
            Message = "{Method} failed")]
        public static partial void UnhandledError(ILogger logger, string method, Exception exception);

        [LoggerMessage(EventId = 103, EventName = "StorageFull", Level = LogLevel.Warning,
            Message = "{Method} could not write: the storage is full ({Reason})")]
        public static partial void StorageFull(ILogger logger, string method, string reason);

        [LoggerMessage(EventId = 104, EventName = "OutOfMemory", Level = LogLevel.Warning,
            Message = "{Method} ran out of heap (OutOfMemoryException): answered UNAVAILABLE")]
        public static partial void OutOfMemory(ILogger logger, string method);

        [LoggerMessage(EventId = 105, EventName = "OutOfDescriptors", Level = LogLevel.Warning,
            Message = "{Method} could not open a file or socket: no descriptor to spare ({Reason}); answered UNAVAILABLE")]
        public static partial void OutOfDescriptors(ILogger logger, string method, string reason);

        // Next free id in the shared range: 106.
    }
}
