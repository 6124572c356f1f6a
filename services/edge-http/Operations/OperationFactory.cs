using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Oci.Digests;
using Registry.Oci.Errors;
using Registry.Oci.Names;

namespace Registry.EdgeHttp.Operations;

/// <summary>
/// Picks the operation for a route and method, and rejects what needs no service to reject: unknown
/// methods (405), invalid names (NAME_INVALID, whichever path component is wrong, case BL-17),
/// malformed digests (DIGEST_INVALID) and tags (TAG_INVALID).
/// </summary>
internal static class OperationFactory
{
    public static OciOperation Create(HttpContext context, OciRoute route)
    {
        var method = context.Request.Method;
        var isGet = HttpMethods.IsGet(method) || HttpMethods.IsHead(method);
        if (route.Name.Length > 0 && !RepositoryName.IsValid(route.Name))
        {
            throw new OciException(OciErrorCode.NameInvalid, detail: route.Name);
        }

        switch (route.Kind)
        {
            case OciRouteKind.Base when isGet:
                return new BaseOperation(context, route);
            case OciRouteKind.Catalog when isGet:
            case OciRouteKind.TagList when isGet:
                return new ListOperation(context, route);
            case OciRouteKind.Manifest:
                ValidateManifestReference(route.Reference);
                if (isGet)
                {
                    return new ManifestGetOperation(context, route);
                }

                if (HttpMethods.IsPut(method))
                {
                    return new ManifestPutOperation(context, route);
                }

                if (HttpMethods.IsDelete(method))
                {
                    return new ManifestDeleteOperation(context, route);
                }

                break;
            case OciRouteKind.Blob:
                ValidateDigest(route.Reference);
                if (isGet)
                {
                    return new BlobGetOperation(context, route);
                }

                if (HttpMethods.IsDelete(method))
                {
                    return new BlobDeleteOperation(context, route);
                }

                break;
            case OciRouteKind.Referrers when HttpMethods.IsGet(method):
                ValidateDigest(route.Reference);
                return new ReferrersOperation(context, route);
            case OciRouteKind.UploadStart when HttpMethods.IsPost(method):
                return new UploadStartOperation(context, route);
            case OciRouteKind.Upload when HttpMethods.IsGet(method) || HttpMethods.IsPatch(method)
                || HttpMethods.IsPut(method) || HttpMethods.IsDelete(method):
                return new UploadSessionOperation(context, route);
        }

        throw new OciException(OciErrorCode.Unsupported, $"{method} is not supported on this endpoint");
    }

    private static void ValidateManifestReference(string reference)
    {
        if (Digest.LooksLikeDigest(reference))
        {
            ValidateDigest(reference);
        }
        else if (!RepositoryName.IsValidTag(reference))
        {
            throw new OciException(OciErrorCode.TagInvalid, "invalid tag", reference);
        }
    }

    private static void ValidateDigest(string digest)
    {
        if (!Digest.TryParse(digest, out _))
        {
            throw new OciException(OciErrorCode.DigestInvalid, "invalid or unsupported digest", digest);
        }
    }
}
