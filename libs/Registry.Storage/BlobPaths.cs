namespace Registry.Storage;

/// <summary>
/// Where blobs and upload sessions live in storage. Blob paths follow the registry:2 layout
/// (docker/registry/v2/blobs/&lt;algorithm&gt;/&lt;two hex&gt;/&lt;hex&gt;/data) so an existing registry:2
/// store can be adopted in place.
/// </summary>
public static class BlobPaths
{
    private const string Root = "docker/registry/v2";

    /// <summary>The path of a committed blob, from a validated digest string.</summary>
    public static string Blob(string digest)
    {
        var colon = digest.IndexOf(':');
        var algorithm = digest.AsSpan(0, colon);
        var hex = digest.AsSpan(colon + 1);
        return $"{Root}/blobs/{algorithm}/{hex[..2]}/{hex}/data";
    }

    /// <summary>The folder of an upload session.</summary>
    public static string UploadFolder(string uploadId) => $"{Root}/_uploads/{uploadId}";

    /// <summary>The data file of an upload session.</summary>
    public static string UploadData(string uploadId) => $"{Root}/_uploads/{uploadId}/data";

    /// <summary>A chunk file written next to a session's data before it is appended (names are checked by the caller).</summary>
    public static string UploadStaged(string uploadId, string name) => $"{Root}/_uploads/{uploadId}/{name}";

    /// <summary>The folder that holds every upload session.</summary>
    public static string UploadsRoot => $"{Root}/_uploads";
}
