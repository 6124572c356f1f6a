namespace Registry.EdgeHttp.Routing;

/// <summary>The OCI endpoints the edge serves (end-1 … end-13 of the distribution spec, plus the catalog).</summary>
internal enum OciRouteKind
{
    Base,
    Catalog,
    Manifest,
    Blob,
    UploadStart,
    Upload,
    TagList,
    Referrers,
}
