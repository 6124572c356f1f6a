namespace Registry.Oci.Errors;

/// <summary>
/// The registry's error codes: the distribution spec's codes plus the few legacy ones that
/// distribution registers and clients know. One table holds each code's wire name, HTTP status and
/// default message, so every service and the edge agree on them.
/// </summary>
public enum OciErrorCode
{
    BlobUnknown,
    BlobUploadInvalid,
    BlobUploadUnknown,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    NameInvalid,
    NameUnknown,
    SizeInvalid,
    Unauthorized,
    Denied,
    Unsupported,
    TooManyRequests,
    TagInvalid,
    PaginationNumberInvalid,
    RangeInvalid,
    Unavailable,
    Unknown,
}
