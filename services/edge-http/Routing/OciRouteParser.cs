namespace Registry.EdgeHttp.Routing;

/// <summary>
/// Parses /v2/ paths. Repository names contain slashes and may end in words like "manifests" or
/// "blobs", so the path is read from its end: the last segments say which endpoint it is and
/// everything before them is the name (case BL-17: repository "library/manifests" works).
/// </summary>
internal static class OciRouteParser
{
    private const string Prefix = "/v2/";

    /// <summary>Parses a request path; false when it names no OCI endpoint.</summary>
    public static bool TryParse(string path, out OciRoute route)
    {
        route = default;
        if (path is "/v2" or Prefix)
        {
            route = new OciRoute(OciRouteKind.Base, string.Empty, string.Empty);
            return true;
        }

        if (!path.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var rest = path.AsSpan(Prefix.Length);
        if (rest.SequenceEqual("_catalog"))
        {
            route = new OciRoute(OciRouteKind.Catalog, string.Empty, string.Empty);
            return true;
        }

        if (TryStrip(rest, "/tags/list", out var name))
        {
            route = new OciRoute(OciRouteKind.TagList, name.ToString(), string.Empty);
            return true;
        }

        if (TryStrip(rest, "/blobs/uploads", out name) || TryStrip(rest, "/blobs/uploads/", out name))
        {
            route = new OciRoute(OciRouteKind.UploadStart, name.ToString(), string.Empty);
            return true;
        }

        var slash = rest.LastIndexOf('/');
        if (slash <= 0 || slash == rest.Length - 1)
        {
            return false;
        }

        var last = rest[(slash + 1)..].ToString();
        var before = rest[..slash];
        if (TryStrip(before, "/blobs/uploads", out name))
        {
            route = new OciRoute(OciRouteKind.Upload, name.ToString(), last);
        }
        else if (TryStrip(before, "/manifests", out name))
        {
            route = new OciRoute(OciRouteKind.Manifest, name.ToString(), last);
        }
        else if (TryStrip(before, "/blobs", out name))
        {
            route = new OciRoute(OciRouteKind.Blob, name.ToString(), last);
        }
        else if (TryStrip(before, "/referrers", out name))
        {
            route = new OciRoute(OciRouteKind.Referrers, name.ToString(), last);
        }
        else
        {
            return false;
        }

        return true;
    }

    private static bool TryStrip(ReadOnlySpan<char> text, string suffix, out ReadOnlySpan<char> name)
    {
        if (text.Length > suffix.Length && text.EndsWith(suffix, StringComparison.Ordinal))
        {
            name = text[..^suffix.Length];
            return true;
        }

        name = default;
        return false;
    }
}
