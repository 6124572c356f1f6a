using System.Collections.Frozen;

namespace Registry.Oci.Errors;

/// <summary>The wire name, HTTP status and default message of each <see cref="OciErrorCode"/>.</summary>
public static class OciErrors
{
    private static readonly (OciErrorCode Code, string Name, int Status, string Message)[] Table =
    [
        (OciErrorCode.BlobUnknown, "BLOB_UNKNOWN", 404, "blob unknown to registry"),
        (OciErrorCode.BlobUploadInvalid, "BLOB_UPLOAD_INVALID", 400, "blob upload invalid"),
        (OciErrorCode.BlobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", 404, "blob upload unknown to registry"),
        (OciErrorCode.DigestInvalid, "DIGEST_INVALID", 400, "provided digest did not match uploaded content"),
        (OciErrorCode.ManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", 404, "manifest references a manifest or blob unknown to registry"),
        (OciErrorCode.ManifestInvalid, "MANIFEST_INVALID", 400, "manifest invalid"),
        (OciErrorCode.ManifestUnknown, "MANIFEST_UNKNOWN", 404, "manifest unknown to registry"),
        (OciErrorCode.NameInvalid, "NAME_INVALID", 400, "invalid repository name"),
        (OciErrorCode.NameUnknown, "NAME_UNKNOWN", 404, "repository name not known to registry"),
        (OciErrorCode.SizeInvalid, "SIZE_INVALID", 400, "provided length did not match content length"),
        (OciErrorCode.Unauthorized, "UNAUTHORIZED", 401, "authentication required"),
        (OciErrorCode.Denied, "DENIED", 403, "requested access to the resource is denied"),
        (OciErrorCode.Unsupported, "UNSUPPORTED", 405, "the operation is unsupported"),
        (OciErrorCode.TooManyRequests, "TOOMANYREQUESTS", 429, "too many requests"),
        (OciErrorCode.TagInvalid, "TAG_INVALID", 400, "manifest tag did not match URI"),
        (OciErrorCode.PaginationNumberInvalid, "PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested"),
        (OciErrorCode.RangeInvalid, "RANGE_INVALID", 416, "invalid content range"),
        (OciErrorCode.Unavailable, "UNAVAILABLE", 503, "service unavailable"),
        (OciErrorCode.Unknown, "UNKNOWN", 500, "unknown error"),
    ];

    private static readonly FrozenDictionary<string, OciErrorCode> ByName =
        Table.ToFrozenDictionary(row => row.Name, row => row.Code, StringComparer.Ordinal);

    /// <summary>The code's wire name, e.g. "BLOB_UNKNOWN".</summary>
    public static string Name(this OciErrorCode code) => Table[(int)code].Name;

    /// <summary>The HTTP status the code is answered with unless a call site chooses another.</summary>
    public static int HttpStatus(this OciErrorCode code) => Table[(int)code].Status;

    /// <summary>The code's default message.</summary>
    public static string DefaultMessage(this OciErrorCode code) => Table[(int)code].Message;

    /// <summary>Looks a code up by its wire name.</summary>
    public static bool TryParse(string? name, out OciErrorCode code)
    {
        if (name is not null && ByName.TryGetValue(name, out code))
        {
            return true;
        }

        code = OciErrorCode.Unknown;
        return false;
    }
}
