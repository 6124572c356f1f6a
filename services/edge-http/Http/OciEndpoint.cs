using Microsoft.Extensions.Options;
using Registry.EdgeHttp.Diagnostics;
using Registry.EdgeHttp.Observability;
using Registry.EdgeHttp.Operations;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Hosting;
using Registry.Hosting.Logging;
using Registry.Hosting.Memory;
using Registry.Oci.Errors;

namespace Registry.EdgeHttp.Http;

/// <summary>
/// The edge's one request handler: parses the route, admits the operation into the pipeline (429 with
/// Retry-After when a stage it needs has no place within the admission wait, or at once when the blob
/// stages are held back), waits for the pipeline, writes the body, and answers every failure with an
/// OCI error body.
/// </summary>
internal sealed partial class OciEndpoint
{
    private readonly RequestPipeline _pipeline;
    private readonly EdgeContext _edge;
    private readonly ILogger<OciEndpoint> _logger;
    private readonly ILogger _requests;
    private readonly InFlightRequests _inFlight;
    private readonly string _retryAfterHeader;
    private readonly CancellationMetrics _cancellations;
    private readonly CancellationToken _stopping;

    public OciEndpoint(
        RequestPipeline pipeline,
        EdgeContext edge,
        IOptions<EdgeOptions> options,
        CancellationMetrics cancellations,
        InFlightRequests inFlight,
        IHostApplicationLifetime lifetime,
        ILogger<OciEndpoint> logger,
        ILoggerFactory loggerFactory)
    {
        _stopping = lifetime.ApplicationStopping;
        _cancellations = cancellations;
        _inFlight = inFlight;
        _requests = loggerFactory.CreateLogger(RegistryLogging.RequestsCategory);
        _pipeline = pipeline;
        _edge = edge;
        _logger = logger;
        _retryAfterHeader = options.Value.Pipeline.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task HandleAsync(HttpContext context)
    {
        context.Response.Headers[OciHeaders.ApiVersion] = OciHeaders.ApiVersionValue;
        var aborted = context.RequestAborted;
        OciOperation? operation = null;
        CancellationTokenRegistration abortWatch = default;
        var started = EdgeMetrics.RequestStarted();
        var slot = _inFlight.Enter();
        var connection = context.Features.Get<ConnectionGate.Slot>();
        connection?.Enter();
        var kind = EdgeOperation.Unknown;
        OciRoute route = default;
        try
        {
            if (!OciRouteParser.TryParse(context.Request.Path.Value ?? string.Empty, out route))
            {
                throw new OciException(OciErrorCode.Unsupported, "unknown endpoint", context.Request.Path.Value,
                    httpStatus: StatusCodes.Status404NotFound);
            }

            kind = EdgeMetrics.Classify(route, context.Request.Method);
            _inFlight.SetOperation(slot, kind);
            if (context.Request.Headers.TransferEncoding.Count > 0 && !MalformedBody.IsChunkedOnly(context.Request.Headers.TransferEncoding))
            {
                // Kestrel takes the chunked framing off and would hand over the rest (gzip, ...) as if it were the content.
                throw new OciException(OciErrorCode.Unsupported, "transfer coding not supported", context.Request.Headers.TransferEncoding.ToString(),
                    httpStatus: StatusCodes.Status501NotImplemented);
            }

            if (RefusedForMemory(route.Kind, context.Request.Method))
            {
                EdgeMetrics.RefusedShortOfMemory();
                await OciErrorWriter.WriteShortOfMemoryAsync(context, _retryAfterHeader);
                return;
            }

            operation = OperationFactory.Create(context, route);
            abortWatch = aborted.UnsafeRegister(static state => ((OciOperation)state!).MarkAborted(), operation);
            if (!await _pipeline.TryEnterAsync(operation, aborted))
            {
                if (aborted.IsCancellationRequested)
                {
                    // The client left while it waited for a place: nothing was refused, nobody to answer.
                    return;
                }

                // Shedding must cost less than serving, or overload feeds itself: no exception, a body made once.
                EdgeMetrics.Rejected();
                Log.Rejected(_logger, context.Request.Method, route.Kind.ToString());
                await OciErrorWriter.WriteAtCapacityAsync(context, _retryAfterHeader);
                return;
            }

            await operation.Completion;
            await operation.WriteBodyAsync(_edge, aborted);
        }
        catch (OciException ex) when (operation is null || !operation.ClientGone)
        {
            if (ex.HttpStatus >= 500)
            {
                // The server's fault (or its storage's), not the client's: an operator must see it.
                Log.ServerError(_logger, context.Request.Method, context.Request.Path.Value ?? string.Empty, ex.Code.Name(), ex.Message, ex.Detail ?? string.Empty);
            }
            else
            {
                Log.ClientError(_logger, context.Request.Method, context.Request.Path.Value ?? string.Empty, ex.Code.Name(), ex.Message);
            }

            await OciErrorWriter.WriteAsync(context, ex);
        }
        catch (BadHttpRequestException ex) when (!aborted.IsCancellationRequested && operation is not { ClientGone: true })
        {
            // Kestrel refused the request body: too slow (408), too large (413) or malformed (400).
            await RejectBodyAsync(context, operation, ex.Message, ex.StatusCode);
        }
        catch (IOException ex) when (MalformedBody.Is(ex) && !aborted.IsCancellationRequested && operation is not { ClientGone: true })
        {
            await RejectBodyAsync(context, operation, ex.Message, StatusCodes.Status400BadRequest);
        }
        catch (Exception ex) when (aborted.IsCancellationRequested || operation is { ClientGone: true })
        {
            if (!context.Response.HasStarted)
            {
                // Nothing may go out on this connection: Kestrel would otherwise answer 200 for work that
                // did not happen, should the connection still be there (a body it could not parse).
                context.Abort();
            }

            // The client went away, or the server cut the connection when the shutdown grace period ran
            // out; the token already stopped the work behind the request.
            if (_stopping.IsCancellationRequested)
            {
                Log.EndedAtShutdown(_logger, context.Request.Method, context.Request.Path.Value ?? string.Empty, ex.GetType().Name);
            }
            else
            {
                Log.ClientGone(_logger, context.Request.Method, context.Request.Path.Value ?? string.Empty, ex.GetType().Name);
            }
        }
        catch (Exception ex) when (StorageFull.Is(ex))
        {
            // The edge's own write of an upload body (StagedUploadBody) found the disk full.
            Log.StorageFull(_logger, context.Request.Method, context.Request.Path.Value ?? string.Empty, ex.Message);
            await OciErrorWriter.WriteAsync(context, StorageFull.Answer(ex));
        }
        catch (Exception ex) when (OutOfDescriptors.Is(ex))
        {
            // The edge's own open of an upload body's file (StagedUploadBody), or a new connection to a service.
            Log.OutOfDescriptors(_logger, context.Request.Method, route.Kind.ToString(), ex.Message);
            await OciErrorWriter.WriteAsync(context, OutOfDescriptors.Answer());
        }
        catch (OutOfMemoryException)
        {
            // The heap hit its hard limit before the pressure checks held enough back: refuse, do not fail.
            EdgeMetrics.RanOutOfMemory();
            Log.OutOfMemory(_logger, context.Request.Method, route.Kind.ToString());
            await OciErrorWriter.WriteShortOfMemoryAsync(context, _retryAfterHeader);
        }
        catch (Exception ex)
        {
            Log.Unhandled(_logger, context.Request.Method, context.Request.Path.Value ?? string.Empty, ex);
            await OciErrorWriter.WriteAsync(context, new OciException(OciErrorCode.Unknown, "internal error"));
        }
        finally
        {
            // Disposing waits for a running abort callback, so AbortedAt is settled below.
            await abortWatch.DisposeAsync();
            if (operation is { AbortedAt: not 0 })
            {
                _cancellations.RecordStopped(operation.AbortedAt, operation.Route.Kind.ToString());
            }

            _inFlight.Exit(slot);
            connection?.Exit();
            var gone = aborted.IsCancellationRequested || operation is { ClientGone: true };
            var elapsed = EdgeMetrics.RequestFinished(kind, context, started, gone);

            // The path is never logged whole: its query may carry a signed URL's signature or a token.
            var status = gone ? 499 : context.Response.StatusCode;
            var elapsedMs = Math.Round(elapsed * 1000, 3);
            var operationName = EdgeMetrics.OperationNames[(int)kind];
            if (string.IsNullOrEmpty(route.Name))
            {
                RequestLog.Request(_requests, context.Request.Method, operationName, status, elapsedMs);
            }
            else if (string.IsNullOrEmpty(route.Reference))
            {
                RequestLog.InRepository.Request(_requests, context.Request.Method, operationName, route.Name, status, elapsedMs);
            }
            else
            {
                Log.Request(_requests, context.Request.Method, operationName, route.Name, route.Reference, status, elapsedMs);
            }
        }
    }

    // Near the heap's limit new work that holds buffers is refused first (blob GETs, new uploads), then
    // everything new; requests that continue an admitted upload go on until the heap is critical.
    private static bool RefusedForMemory(OciRouteKind kind, string method) => HeapPressure.Level switch
    {
        HeapPressureLevel.Normal => false,
        HeapPressureLevel.High => kind == OciRouteKind.UploadStart || (kind == OciRouteKind.Blob && HttpMethods.IsGet(method)),
        _ => true,
    };

    private Task RejectBodyAsync(HttpContext context, OciOperation? operation, string reason, int status)
    {
        var code = operation?.Route.Kind is OciRouteKind.Manifest ? OciErrorCode.ManifestInvalid : OciErrorCode.BlobUploadInvalid;
        var oci = new OciException(code, "request body rejected", reason, httpStatus: status);
        Log.ClientError(_logger, context.Request.Method, context.Request.Path.Value ?? string.Empty, oci.Code.Name(), reason);
        return OciErrorWriter.WriteAsync(context, oci);
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1000, EventName = "RequestRejected", Level = LogLevel.Debug,
            Message = "{Method} {Route} refused: the pipeline is full")]
        public static partial void Rejected(ILogger logger, string method, string route);

        [LoggerMessage(EventId = 1001, EventName = "ClientError", Level = LogLevel.Debug,
            Message = "{Method} {Path} answered {OciCode}: {Reason}")]
        public static partial void ClientError(ILogger logger, string method, string path, string ociCode, string reason);

        [LoggerMessage(EventId = 1002, EventName = "ClientGone", Level = LogLevel.Information,
            Message = "{Method} {Path} stopped: the client went away ({Signal})")]
        public static partial void ClientGone(ILogger logger, string method, string path, string signal);

        [LoggerMessage(EventId = 1003, EventName = "UnhandledError", Level = LogLevel.Error,
            Message = "{Method} {Path} failed")]
        public static partial void Unhandled(ILogger logger, string method, string path, Exception exception);

        [LoggerMessage(EventId = 1004, EventName = "Request", Level = LogLevel.Information,
            Message = "{Method:l} {Operation:l} {Repository:l} {Reference:l} answered {StatusCode} in {ElapsedMs:0.###} ms")]
        public static partial void Request(
            ILogger logger,
            string method,
            string operation,
            string repository,
            string reference,
            int statusCode,
            double elapsedMs);

        [LoggerMessage(EventId = 1005, EventName = "EndedAtShutdown", Level = LogLevel.Warning,
            Message = "{Method} {Path} ended during shutdown: its connection closed (the grace period ran out, or the client left) ({Signal})")]
        public static partial void EndedAtShutdown(ILogger logger, string method, string path, string signal);

        [LoggerMessage(EventId = 1006, EventName = "ServerError", Level = LogLevel.Warning,
            Message = "{Method} {Path} answered {OciCode}: {Reason} ({Detail})")]
        public static partial void ServerError(ILogger logger, string method, string path, string ociCode, string reason, string detail);

        [LoggerMessage(EventId = 1007, EventName = "StorageFull", Level = LogLevel.Warning,
            Message = "{Method} {Path} could not write: the storage is full ({Reason})")]
        public static partial void StorageFull(ILogger logger, string method, string path, string reason);

        [LoggerMessage(EventId = 1008, EventName = "OutOfMemory", Level = LogLevel.Warning,
            Message = "{Method} {Route} ran out of heap (OutOfMemoryException): answered 503, or cut off if its answer had started")]
        public static partial void OutOfMemory(ILogger logger, string method, string route);

        [LoggerMessage(EventId = 1009, EventName = "OutOfDescriptors", Level = LogLevel.Warning,
            Message = "{Method} {Route} could not open a file or socket: no descriptor to spare ({Reason}); answered 503")]
        public static partial void OutOfDescriptors(ILogger logger, string method, string route, string reason);

        // Next free id: 1010 (RequestPipeline uses 1100-1199).
    }

    /// <summary>The same request line (event 1004) for routes without a reference or without a repository.</summary>
    private static partial class RequestLog
    {
        [LoggerMessage(EventId = 1004, EventName = "Request", Level = LogLevel.Information,
            Message = "{Method:l} {Operation:l} answered {StatusCode} in {ElapsedMs:0.###} ms")]
        public static partial void Request(ILogger logger, string method, string operation, int statusCode, double elapsedMs);

        public static partial class InRepository
        {
            [LoggerMessage(EventId = 1004, EventName = "Request", Level = LogLevel.Information,
                Message = "{Method:l} {Operation:l} {Repository:l} answered {StatusCode} in {ElapsedMs:0.###} ms")]
            public static partial void Request(
                ILogger logger, string method, string operation, string repository, int statusCode, double elapsedMs);
        }
    }
}
