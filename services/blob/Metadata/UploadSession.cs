using Registry.Oci.Digests;

namespace Registry.Blob.Metadata;

/// <summary>A persisted upload session: the bytes it holds survive restarts.</summary>
/// <param name="Id">The session id (32 lowercase hex).</param>
/// <param name="Repository">The repository the upload belongs to.</param>
/// <param name="Algorithm">The digest algorithm the client announced.</param>
/// <param name="Size">The acknowledged bytes.</param>
internal sealed record UploadSession(string Id, string Repository, DigestAlgorithm Algorithm, long Size);
