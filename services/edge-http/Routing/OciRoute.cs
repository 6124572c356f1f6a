namespace Registry.EdgeHttp.Routing;

/// <summary>A parsed request path.</summary>
/// <param name="Kind">Which endpoint.</param>
/// <param name="Name">The repository name, or empty for Base and Catalog.</param>
/// <param name="Reference">The tag, digest or upload id that ends the path, or empty.</param>
internal readonly record struct OciRoute(OciRouteKind Kind, string Name, string Reference);
