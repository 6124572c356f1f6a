using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Options;
using Registry.Hosting.Grpc;
using Registry.Manifest.Metadata;
using Registry.Oci.Digests;
using Registry.Oci.Errors;
using Registry.Oci.Manifests;
using Registry.Oci.Names;
using Registry.Protos;

namespace Registry.Manifest.Grpc;

/// <summary>The gRPC face of the manifest service (contract in protos/manifest.proto).</summary>
internal sealed class ManifestGrpcService : Manifests.ManifestsBase
{
    // A page of referrers takes at most this much of its gRPC message (annotations may be large), half of
    // what one message may hold; its first referrer always goes, and a manifest is smaller than the limit.
    private const long ReferrersPageBytes = 4 * 1024 * 1024;

    private readonly ManifestMetadataStore _store;
    private readonly Blobs.BlobsClient _blobs;
    private readonly ManifestServiceOptions _options;

    public ManifestGrpcService(ManifestMetadataStore store, Blobs.BlobsClient blobs, IOptions<ManifestServiceOptions> options)
    {
        _store = store;
        _blobs = blobs;
        _options = options.Value;
    }

    /// <inheritdoc />
    public override Task<ManifestReply> GetManifest(GetManifestRequest request, ServerCallContext context)
    {
        var repository = ValidName(request.Repository);
        var isDigest = ParseReference(request.Reference);

        // A caller that holds the content of known_digest needs only to learn that the reference still resolves to it.
        var knownDigest = request.KnownDigest;
        var skipContent = request.MetadataOnly || knownDigest.Length > 0;
        var manifest = _store.Get(repository, request.Reference, isDigest, skipContent)
            ?? throw new OciException(OciErrorCode.ManifestUnknown, detail: request.Reference);
        var omitted = !request.MetadataOnly && knownDigest.Length > 0 && string.Equals(manifest.Digest, knownDigest, StringComparison.Ordinal);
        if (!request.MetadataOnly && !omitted && manifest.Content.Length == 0 && manifest.Size > 0)
        {
            // Metadata was read for a digest the caller said it held; it does not hold this one after all.
            manifest = _store.Get(repository, manifest.Digest, isDigest: true, metadataOnly: false)
                ?? throw new OciException(OciErrorCode.ManifestUnknown, detail: request.Reference);
        }

        return Task.FromResult(new ManifestReply
        {
            Digest = manifest.Digest,
            MediaType = manifest.MediaType,
            Size = manifest.Size,
            Content = omitted ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(manifest.Content),
            ContentOmitted = omitted,
        });
    }

    /// <inheritdoc />
    public override async Task<PutManifestReply> PutManifest(PutManifestRequest request, ServerCallContext context)
    {
        var repository = ValidName(request.Repository);
        var isDigest = ParseReference(request.Reference);
        if (request.Content.Length > _options.MaxManifestBytes)
        {
            throw new OciException(OciErrorCode.SizeInvalid, "manifest too large",
                $"{request.Content.Length} bytes, the limit is {_options.MaxManifestBytes}", httpStatus: 413);
        }

        foreach (var tag in request.Tags)
        {
            if (!RepositoryName.IsValidTag(tag))
            {
                throw new OciException(OciErrorCode.TagInvalid, "invalid tag", tag);
            }
        }

        var algorithm = isDigest ? Digest.Parse(request.Reference).Algorithm : DigestAlgorithm.Sha256;
        var content = request.Content.ToByteArray();
        var manifest = ManifestParser.Parse(content, request.ContentType, algorithm);
        if (isDigest && !string.Equals(manifest.Digest.Value, request.Reference, StringComparison.Ordinal))
        {
            throw new OciException(OciErrorCode.DigestInvalid, "manifest digest does not match the reference",
                $"reference {request.Reference}, content {manifest.Digest}");
        }

        await CheckReferencesAsync(repository, manifest, context.CancellationToken);

        var tags = new List<string>(request.Tags);
        if (!isDigest)
        {
            tags.Add(request.Reference);
        }

        await _store.PutAsync(repository, manifest, content, tags, context.CancellationToken);
        var reply = new PutManifestReply { Digest = manifest.Digest.Value, Subject = manifest.Subject?.Digest.Value ?? string.Empty };
        reply.Tags.AddRange(tags);
        return reply;
    }

    /// <inheritdoc />
    public override async Task<DeleteManifestReply> DeleteManifest(DeleteManifestRequest request, ServerCallContext context)
    {
        var repository = ValidName(request.Repository);
        var deleted = ParseReference(request.Reference)
            ? await _store.DeleteManifestAsync(repository, request.Reference, context.CancellationToken)
            : await _store.DeleteTagAsync(repository, request.Reference, context.CancellationToken);
        if (!deleted)
        {
            throw new OciException(OciErrorCode.ManifestUnknown, detail: request.Reference);
        }

        return new DeleteManifestReply();
    }

    /// <inheritdoc />
    public override Task<ListReply> ListTags(ListTagsRequest request, ServerCallContext context)
    {
        var repository = ValidName(request.Repository);
        if (!_store.RepositoryExists(repository))
        {
            throw new OciException(OciErrorCode.NameUnknown, detail: repository);
        }

        var (names, more) = _store.ListTags(repository, request.Last, PageSize(request.Limit));
        return Task.FromResult(ToReply(names, more));
    }

    /// <inheritdoc />
    public override Task<ListReply> ListRepositories(ListRepositoriesRequest request, ServerCallContext context)
    {
        var (names, more) = _store.ListRepositories(request.Last, PageSize(request.Limit));
        return Task.FromResult(ToReply(names, more));
    }

    /// <inheritdoc />
    public override Task<ListReferrersReply> ListReferrers(ListReferrersRequest request, ServerCallContext context)
    {
        var repository = ValidName(request.Repository);
        if (!Digest.TryParse(request.Subject, out _))
        {
            throw new OciException(OciErrorCode.DigestInvalid, "invalid subject digest", request.Subject);
        }

        var artifactType = request.ArtifactType.Length == 0 ? null : request.ArtifactType;
        var (page, more) = _store.ListReferrers(repository, request.Subject, artifactType, request.Last, _options.MaxPageSize, ReferrersPageBytes);
        var reply = new ListReferrersReply { More = more };
        reply.Manifests.AddRange(page);
        return Task.FromResult(reply);
    }

    // Every blob must be readable in this repository and every child manifest stored in it, with the size
    // its descriptor gives, before the manifest becomes visible: a pull of an acknowledged manifest never
    // meets a missing piece, nor one that its client would refuse for its length.
    private async Task CheckReferencesAsync(string repository, ParsedManifest manifest, CancellationToken cancellationToken)
    {
        if (manifest.Blobs.Count > 0)
        {
            var request = new FindMissingBlobsRequest { Repository = repository };
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var blob in manifest.Blobs)
            {
                if (!blob.IsForeign && seen.Add(blob.Digest.Value))
                {
                    request.Digests.Add(blob.Digest.Value);
                }
            }

            FindMissingBlobsReply found;
            try
            {
                found = await _blobs.FindMissingBlobsAsync(request, cancellationToken: cancellationToken);
            }
            catch (RpcException ex)
            {
                throw OciStatus.ToOciException(ex);
            }

            if (found.Missing.Count > 0)
            {
                throw new OciException(OciErrorCode.ManifestBlobUnknown, detail: found.Missing[0]);
            }

            var sizes = new Dictionary<string, long>(request.Digests.Count, StringComparer.Ordinal);
            for (var i = 0; i < request.Digests.Count && i < found.Sizes.Count; i++)
            {
                sizes[request.Digests[i]] = found.Sizes[i];
            }

            foreach (var blob in manifest.Blobs)
            {
                if (sizes.TryGetValue(blob.Digest.Value, out var stored) && stored != blob.Size)
                {
                    throw WrongSize(blob, stored);
                }
            }
        }

        CheckSubject(repository, manifest);
        if (manifest.Children.Count > 0)
        {
            var childSizes = _store.ManifestSizes(repository, manifest.Children.Select(child => child.Digest.Value));
            for (var i = 0; i < childSizes.Count; i++)
            {
                if (childSizes[i] < 0)
                {
                    throw new OciException(OciErrorCode.ManifestBlobUnknown, "index references an unknown manifest", manifest.Children[i].Digest.Value);
                }

                if (childSizes[i] != manifest.Children[i].Size)
                {
                    throw WrongSize(manifest.Children[i], childSizes[i]);
                }
            }
        }
    }

    private void CheckSubject(string repository, ParsedManifest manifest)
    {
        // A subject may be pushed after its referrers (so it need not exist); when it does, its size must agree.
        if (manifest.Subject is { } subject
            && _store.ManifestSizes(repository, [subject.Digest.Value]) is [var stored and >= 0]
            && stored != subject.Size)
        {
            throw WrongSize(subject, stored);
        }
    }

    private static OciException WrongSize(ManifestDescriptor descriptor, long stored) =>
        new(OciErrorCode.ManifestInvalid, "a descriptor's size differs from its content's",
            string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{descriptor.Digest.Value}: the descriptor says {descriptor.Size} bytes, the content has {stored}"));

    private int PageSize(int limit) => limit < 0 ? _options.MaxPageSize : Math.Min(limit, _options.MaxPageSize);

    private static ListReply ToReply(List<string> names, bool more)
    {
        var reply = new ListReply { More = more };
        reply.Names.AddRange(names);
        return reply;
    }

    /// <summary>True for a digest, false for a tag; throws for anything else.</summary>
    private static bool ParseReference(string reference)
    {
        if (Digest.LooksLikeDigest(reference))
        {
            return Digest.TryParse(reference, out _)
                ? true
                : throw new OciException(OciErrorCode.DigestInvalid, "invalid digest reference", reference);
        }

        return RepositoryName.IsValidTag(reference)
            ? false
            : throw new OciException(OciErrorCode.TagInvalid, "invalid tag", reference);
    }

    private static string ValidName(string repository) =>
        RepositoryName.IsValid(repository) ? repository : throw new OciException(OciErrorCode.NameInvalid, detail: repository);
}
