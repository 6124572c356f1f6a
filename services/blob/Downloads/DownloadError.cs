using Registry.Oci.Errors;

namespace Registry.Blob.Downloads;

/// <summary>An error answer of the direct download server: status, OCI error code and a fixed ASCII detail.</summary>
/// <param name="Status">The HTTP status.</param>
/// <param name="Code">The OCI error code of the JSON body.</param>
/// <param name="Detail">A short fixed explanation (ASCII, no characters that need JSON escaping).</param>
internal readonly record struct DownloadError(int Status, OciErrorCode Code, string Detail)
{
    public static readonly DownloadError BadRequest = new(400, OciErrorCode.Unsupported, "malformed request");
    public static readonly DownloadError HeadTooLarge = new(431, OciErrorCode.Unsupported, "request head too large");
    public static readonly DownloadError BodyNotAccepted = new(400, OciErrorCode.Unsupported, "requests with a body are not accepted");
    public static readonly DownloadError MethodNotAllowed = new(405, OciErrorCode.Unsupported, "only GET and HEAD are served");
    public static readonly DownloadError BadSignature = new(403, OciErrorCode.Denied, "the download URL's signature is not valid");
    public static readonly DownloadError Expired = new(403, OciErrorCode.Denied, "the download URL has expired");
    public static readonly DownloadError Unknown = new(404, OciErrorCode.BlobUnknown, "no such blob");
    public static readonly DownloadError RangeInvalid = new(416, OciErrorCode.RangeInvalid, "requested range not satisfiable");
    public static readonly DownloadError AtCapacity = new(503, OciErrorCode.Unavailable, "too many connections; retry later");

    /// <summary>Writes the whole response: head and, unless the request was HEAD, the JSON body.</summary>
    public void Write(ref ResponseHeadWriter writer, bool keepAlive, bool withBody, long? blobLength = null)
    {
        var body = $"{{\"errors\":[{{\"code\":\"{Code.Name()}\",\"message\":\"{Code.DefaultMessage()}\",\"detail\":\"{Detail}\"}}]}}";
        writer.Status(Status);
        writer.Header("Content-Type", "application/json");
        writer.Header("Content-Length", body.Length);
        if (Status == 405)
        {
            writer.Header("Allow", "GET, HEAD");
        }
        else if (Status == 503)
        {
            writer.Header("Retry-After", "1");
        }
        else if (Status == 416 && blobLength is { } length)
        {
            writer.Header("Content-Range", $"bytes */{length}");
        }

        writer.End(keepAlive);
        if (withBody)
        {
            writer.Append(body);
        }
    }
}
