using Registry.Benchmarks.Http;

namespace Registry.Benchmarks.Scenarios;

/// <summary>Pushes the fixtures to a registry (skipping blobs it already has) and checks the tag resolves.</summary>
internal static class FixtureSetup
{
    public static async Task PushAsync(RegistryTarget target, Fixtures fixtures, CancellationToken cancellationToken)
    {
        using var client = new OciClient(target, 64 * 1024);
        var imageBlobs = fixtures.Layers.Zip(fixtures.LayerDigests).Append((fixtures.Config, fixtures.ConfigDigest));
        foreach (var (content, digest) in imageBlobs)
        {
            await EnsureBlobAsync(client, Fixtures.ImageRepository, content, digest, cancellationToken);
        }

        await EnsureBlobAsync(client, Fixtures.BigRepository, fixtures.Big, fixtures.BigDigest, cancellationToken);
        await EnsureBlobAsync(client, Fixtures.BigRepository, fixtures.BigConfig, fixtures.BigConfigDigest, cancellationToken);

        var stored = await client.PutManifestAsync(
            Fixtures.ImageRepository, Fixtures.ImageTag, fixtures.Manifest, Fixtures.ManifestMediaType, cancellationToken);
        if (stored is not null && stored != fixtures.ManifestDigest)
        {
            throw new InvalidOperationException($"{target.Label}: manifest stored as {stored}, expected {fixtures.ManifestDigest}");
        }

        await client.PutManifestAsync(
            Fixtures.BigRepository, Fixtures.ImageTag, fixtures.BigManifest, Fixtures.ManifestMediaType, cancellationToken);

        // The tag must serve the exact bytes pushed.
        using var hash = System.Security.Cryptography.IncrementalHash.CreateHash(
            System.Security.Cryptography.HashAlgorithmName.SHA256);
        var get = RawRequest.Build(
            "GET", $"/v2/{Fixtures.ImageRepository}/manifests/{Fixtures.ImageTag}", target.Host, -1,
            ("Accept", RawRequest.ManifestAccept));
        var response = await client.Connection.SendAsync(get, default, false, false, hash, cancellationToken);
        var served = "sha256:" + Convert.ToHexStringLower(hash.GetHashAndReset());
        if (response.Status != 200 || served != fixtures.ManifestDigest)
        {
            throw new InvalidOperationException($"{target.Label}: GET by tag answered {response.Status} with {served}");
        }
    }

    private static async Task EnsureBlobAsync(
        OciClient client,
        string repository,
        byte[] content,
        string digest,
        CancellationToken cancellationToken)
    {
        if (await client.HasBlobAsync(repository, digest, cancellationToken))
        {
            return;
        }

        var error = await client.PushMonolithicAsync(repository, content, digest, cancellationToken);
        if (error is not null)
        {
            throw new InvalidOperationException($"pushing {digest} to {repository} failed: {error}");
        }
    }
}
