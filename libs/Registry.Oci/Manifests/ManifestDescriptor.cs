using Registry.Oci.Digests;

namespace Registry.Oci.Manifests;

/// <summary>A validated descriptor read from a manifest.</summary>
/// <param name="MediaType">The referenced content's media type.</param>
/// <param name="Digest">The referenced content's digest.</param>
/// <param name="Size">The referenced content's size in bytes.</param>
/// <param name="HasUrls">True when the descriptor lists external URLs (a foreign layer that need not be stored here).</param>
public sealed record ManifestDescriptor(string MediaType, Digest Digest, long Size, bool HasUrls);
