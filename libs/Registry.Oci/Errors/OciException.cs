using System.Diagnostics.CodeAnalysis;

namespace Registry.Oci.Errors;

/// <summary>
/// A failure that maps to an OCI error body. Services throw it for bad input; the gRPC layer turns it
/// into a status with the code in the trailers, and the edge turns that into the client's answer.
/// </summary>
public sealed class OciException : Exception
{
    public OciException(OciErrorCode code, string? message = null, string? detail = null, int? httpStatus = null)
        : base(message ?? code.DefaultMessage())
    {
        Code = code;
        Detail = detail;
        HttpStatus = httpStatus ?? code.HttpStatus();
    }

    /// <summary>The OCI error code.</summary>
    public OciErrorCode Code { get; }

    /// <summary>Optional detail for the client, as a plain string.</summary>
    public string? Detail { get; }

    /// <summary>The HTTP status to answer with.</summary>
    public int HttpStatus { get; }

    /// <summary>For upload range errors: the bytes the session holds, so the edge can send a Range header.</summary>
    public long? UploadSize { get; init; }

    /// <summary>For TOOMANYREQUESTS and UNAVAILABLE: when the client may try again (the Retry-After header).</summary>
    public TimeSpan? RetryAfter { get; init; }

    /// <summary>416 BLOB_UPLOAD_INVALID for a chunk starting at <paramref name="offset"/> of a session holding <paramref name="size"/> bytes.</summary>
    public static OciException ChunkDoesNotContinue(long offset, long size) =>
        new(OciErrorCode.BlobUploadInvalid, "chunk does not continue the upload",
            $"chunk starts at {offset}, the session holds {size} bytes", httpStatus: 416) { UploadSize = size };

    /// <summary>Throws an <see cref="OciException"/>.</summary>
    [DoesNotReturn]
    public static void Throw(OciErrorCode code, string? message = null, string? detail = null) =>
        throw new OciException(code, message, detail);
}
