namespace Registry.Manifest.Metadata;

/// <summary>A manifest as stored: its digest, pushed media type and exact bytes (empty when only metadata was read).</summary>
internal sealed record StoredManifest(string Digest, string MediaType, long Size, byte[] Content);
