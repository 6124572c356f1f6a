namespace Registry.EdgeHttp.Observability;

/// <summary>
/// What a client request asked for, as a metric label: the OCI endpoint and the method, never the
/// path (repository names and digests would explode the number of series).
/// </summary>
internal enum EdgeOperation
{
    Unknown,
    Base,
    Catalog,
    TagList,
    ManifestGet,
    ManifestHead,
    ManifestPut,
    ManifestDelete,
    BlobGet,
    BlobHead,
    BlobDelete,
    UploadStart,
    UploadStatus,
    UploadPatch,
    UploadPut,
    UploadDelete,
    Referrers,
}
