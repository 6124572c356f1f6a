namespace Registry.EdgeHttp.Http;

/// <summary>Header names of the distribution spec.</summary>
internal static class OciHeaders
{
    public const string ApiVersion = "Docker-Distribution-API-Version";
    public const string ApiVersionValue = "registry/2.0";
    public const string ContentDigest = "Docker-Content-Digest";
    public const string UploadUuid = "Docker-Upload-UUID";
    public const string Subject = "OCI-Subject";
    public const string Tag = "OCI-Tag";
    public const string FiltersApplied = "OCI-Filters-Applied";
}
