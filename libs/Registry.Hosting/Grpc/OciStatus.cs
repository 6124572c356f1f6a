using Grpc.Core;
using Registry.Oci.Errors;

namespace Registry.Hosting.Grpc;

/// <summary>
/// Carries OCI errors across gRPC: a status code that fits the failure, and the OCI code, detail and
/// upload range in the trailers (names documented in protos/common.proto).
/// </summary>
public static class OciStatus
{
    /// <summary>Trailer with the OCI error code.</summary>
    public const string CodeKey = "oci-code";

    /// <summary>Trailer with the error detail.</summary>
    public const string DetailKey = "oci-detail";

    /// <summary>Trailer with the bytes an upload session holds, as "0-&lt;last&gt;" or "0-0".</summary>
    public const string RangeKey = "oci-range";

    /// <summary>Trailer with the HTTP status the edge should answer with.</summary>
    public const string HttpStatusKey = "oci-http-status";

    /// <summary>Trailer with the whole seconds after which the client may retry (Retry-After).</summary>
    public const string RetryAfterKey = "oci-retry-after";

    /// <summary>Turns an <see cref="OciException"/> into the <see cref="RpcException"/> that carries it.</summary>
    public static RpcException ToRpcException(OciException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var trailers = new Metadata
        {
            { CodeKey, exception.Code.Name() },
            { HttpStatusKey, exception.HttpStatus.ToString(System.Globalization.CultureInfo.InvariantCulture) },
        };
        if (exception.Detail is not null)
        {
            trailers.Add(DetailKey, Sanitize(exception.Detail));
        }

        if (exception.UploadSize is { } size)
        {
            trailers.Add(RangeKey, size.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        if (exception.RetryAfter is { } retryAfter)
        {
            trailers.Add(RetryAfterKey, RetrySeconds(retryAfter).ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        return new RpcException(new Status(StatusFor(exception), Sanitize(exception.Message)), trailers);
    }

    /// <summary>
    /// Turns a failed call back into an <see cref="OciException"/>: the OCI error when the service sent
    /// one, UNAVAILABLE when the service could not be reached, UNKNOWN (500) otherwise.
    /// </summary>
    public static OciException ToOciException(RpcException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        var trailers = exception.Trailers;
        var codeName = trailers.GetValue(CodeKey);
        if (codeName is not null && OciErrors.TryParse(codeName, out var code))
        {
            int? status = int.TryParse(trailers.GetValue(HttpStatusKey), out var parsed) ? parsed : null;
            long? size = long.TryParse(trailers.GetValue(RangeKey), out var range) ? range : null;
            TimeSpan? retryAfter = int.TryParse(trailers.GetValue(RetryAfterKey), out var seconds) && seconds > 0
                ? TimeSpan.FromSeconds(seconds)
                : null;
            return new OciException(code, exception.Status.Detail, trailers.GetValue(DetailKey), status)
            {
                UploadSize = size,
                RetryAfter = retryAfter,
            };
        }

        if (OutOfDescriptors.Is(exception.Status.DebugException))
        {
            // The call could not even open its connection: this process is out of file descriptors.
            return OutOfDescriptors.Answer();
        }

        // Without an OCI code the status came from gRPC itself (a connection that failed, a deadline): its
        // detail names this process's internals (socket paths, exception text), so the client gets the
        // status code alone.
        var detail = "gRPC " + exception.StatusCode;
        return exception.StatusCode switch
        {
            // Our services shed load with an OCI code (above); a bare ResourceExhausted is gRPC's own limit
            // (a message over the size limit), which no retry fixes.
            StatusCode.ResourceExhausted => new OciException(OciErrorCode.Unknown, "internal error", detail),
            StatusCode.Unavailable or StatusCode.DeadlineExceeded =>
                new OciException(OciErrorCode.Unavailable, "a registry service is unavailable", detail),
            _ => new OciException(OciErrorCode.Unknown, "internal error", detail),
        };
    }

    /// <summary>A retry delay as the whole seconds of a Retry-After header: rounded up, at least 1.</summary>
    public static int RetrySeconds(TimeSpan delay) => Math.Max(1, (int)Math.Ceiling(delay.TotalSeconds));

    private static StatusCode StatusFor(OciException exception) => exception.HttpStatus switch
    {
        404 => StatusCode.NotFound,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        405 => StatusCode.Unimplemented,
        416 => StatusCode.OutOfRange,
        429 => StatusCode.ResourceExhausted,
        503 => StatusCode.Unavailable,
        >= 500 => StatusCode.Internal,
        _ => StatusCode.InvalidArgument,
    };

    // ASCII trailers only: gRPC metadata values must be printable ASCII.
    private static string Sanitize(string text)
    {
        foreach (var c in text)
        {
            if (c is < ' ' or > '~')
            {
                return string.Create(text.Length, text, static (span, source) =>
                {
                    for (var i = 0; i < source.Length; i++)
                    {
                        span[i] = source[i] is < ' ' or > '~' ? '?' : source[i];
                    }
                });
            }
        }

        return text;
    }
}
