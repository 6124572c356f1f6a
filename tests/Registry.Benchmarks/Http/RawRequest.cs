using System.Text;

namespace Registry.Benchmarks.Http;

/// <summary>Builds HTTP/1.1 request heads as bytes, once, so a hot loop only writes them.</summary>
internal static class RawRequest
{
    public const string ManifestAccept =
        "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, "
        + "application/vnd.docker.distribution.manifest.v2+json, "
        + "application/vnd.docker.distribution.manifest.list.v2+json";

    /// <summary>Builds a request head; <paramref name="contentLength"/> below zero sends no Content-Length.</summary>
    public static byte[] Build(
        string method,
        string pathAndQuery,
        string host,
        long contentLength = -1,
        params (string Name, string Value)[] headers)
    {
        var text = new StringBuilder(256);
        text.Append(method).Append(' ').Append(pathAndQuery).Append(" HTTP/1.1\r\n");
        text.Append("Host: ").Append(host).Append("\r\n");
        text.Append("User-Agent: registry-benchmarks\r\n");
        foreach (var (name, value) in headers)
        {
            text.Append(name).Append(": ").Append(value).Append("\r\n");
        }

        if (contentLength >= 0)
        {
            text.Append("Content-Length: ").Append(contentLength).Append("\r\n");
        }

        text.Append("\r\n");
        return Encoding.ASCII.GetBytes(text.ToString());
    }
}
