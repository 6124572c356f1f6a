using System.Text.Json;
using Registry.Hosting.Grpc;
using Registry.Oci.Errors;

namespace Registry.EdgeHttp.Http;

/// <summary>Writes OCI error bodies: {"errors":[{"code":…,"message":…,"detail":…}]}.</summary>
internal static class OciErrorWriter
{
    private static readonly byte[] AtCapacityBody = System.Text.Encoding.UTF8.GetBytes(
        "{\"errors\":[{\"code\":\"TOOMANYREQUESTS\",\"message\":\"the registry is at capacity; retry later\",\"detail\":null}]}");

    private static readonly byte[] ShortOfMemoryBody = System.Text.Encoding.UTF8.GetBytes(
        "{\"errors\":[{\"code\":\"UNAVAILABLE\",\"message\":\"the registry is short of memory; retry later\",\"detail\":null}]}");

    /// <summary>The 429 of a full pipeline: the same answer every time, written from bytes made once.</summary>
    public static Task WriteAtCapacityAsync(HttpContext context, string retryAfter) =>
        WriteRefusalAsync(context, StatusCodes.Status429TooManyRequests, retryAfter, AtCapacityBody);

    /// <summary>The 503 of a heap near its limit, written like <see cref="WriteAtCapacityAsync"/>.</summary>
    public static Task WriteShortOfMemoryAsync(HttpContext context, string retryAfter) =>
        WriteRefusalAsync(context, StatusCodes.Status503ServiceUnavailable, retryAfter, ShortOfMemoryBody);

    /// <summary>A canned refusal: <paramref name="status"/> with Retry-After and a body made once (none to a HEAD).</summary>
    public static Task WriteRefusalAsync(HttpContext context, int status, string retryAfter, byte[] body)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            context.Abort();
            return Task.CompletedTask;
        }

        response.StatusCode = status;
        response.Headers.RetryAfter = retryAfter;
        response.Headers[OciHeaders.ApiVersion] = OciHeaders.ApiVersionValue;
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return Task.CompletedTask;
        }

        response.ContentType = "application/json";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    /// <summary>Answers the request with an OCI error, unless the response has started already.</summary>
    public static async Task WriteAsync(HttpContext context, OciException error)
    {
        var response = context.Response;
        if (response.HasStarted)
        {
            // Headers are gone: the only honest signal left is to cut the connection.
            context.Abort();
            return;
        }

        // Headers the operation set on purpose (Location, Range, WWW-Authenticate, Content-Range) stay.
        response.ContentType = null;
        response.ContentLength = null;
        response.StatusCode = error.HttpStatus;
        response.Headers[OciHeaders.ApiVersion] = OciHeaders.ApiVersionValue;
        if ((error.Code == OciErrorCode.TooManyRequests || error.Code == OciErrorCode.Unavailable) && response.Headers.RetryAfter.Count == 0)
        {
            response.Headers.RetryAfter = error.RetryAfter is { } retryAfter
                ? OciStatus.RetrySeconds(retryAfter).ToString(System.Globalization.CultureInfo.InvariantCulture)
                : "1";
        }

        if (error.UploadSize is { } size)
        {
            response.Headers.Range = UploadRange(size);
        }

        if (HttpMethods.IsHead(context.Request.Method))
        {
            // HEAD answers carry no body (case BL-09).
            return;
        }

        var buffer = Body(error);
        response.ContentType = "application/json";
        response.ContentLength = buffer.WrittenCount;
        await response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted);
    }

    /// <summary>
    /// Writes one error body with characters to escape, so that what the writer loads on first use (the JIT
    /// build loads System.Text.Encodings.Web) is loaded at start: out of file descriptors, loading it failed,
    /// and the 503 meant for the client became an empty 500.
    /// </summary>
    public static void WarmUp() => Body(new OciException(OciErrorCode.Unavailable, "warm-up \"\u00e9\u2028<>", "\u0001"));

    private static System.Buffers.ArrayBufferWriter<byte> Body(OciException error)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using var writer = new Utf8JsonWriter(buffer);
        writer.WriteStartObject();
        writer.WriteStartArray("errors");
        writer.WriteStartObject();
        writer.WriteString("code", error.Code.Name());
        writer.WriteString("message", error.Message);
        if (error.Detail is null)
        {
            writer.WriteNull("detail");
        }
        else
        {
            writer.WriteString("detail", error.Detail);
        }

        writer.WriteEndObject();
        writer.WriteEndArray();
        writer.WriteEndObject();
        writer.Flush();
        return buffer;
    }

    /// <summary>The Range header of an upload holding <paramref name="size"/> bytes: "0-&lt;last&gt;", or "0-0" when empty (case BL-02).</summary>
    public static string UploadRange(long size) =>
        size > 0 ? string.Create(System.Globalization.CultureInfo.InvariantCulture, $"0-{size - 1}") : "0-0";
}
