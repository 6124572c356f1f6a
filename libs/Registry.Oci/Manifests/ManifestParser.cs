using System.Text.Json;
using Registry.Oci.Digests;
using Registry.Oci.Errors;

namespace Registry.Oci.Manifests;

/// <summary>
/// Validates a pushed manifest and reads the references the registry must check. The bytes are never
/// rewritten: the registry stores and serves exactly what was pushed (distribution-spec PR #333).
/// </summary>
public static class ManifestParser
{
    /// <summary>The largest manifest accepted by default, as distribution's limit.</summary>
    public const int DefaultMaxManifestBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Parses and validates a manifest. Throws <see cref="OciException"/> with MANIFEST_INVALID (or
    /// DIGEST_INVALID for a malformed descriptor digest) when it is not one the registry accepts.
    /// </summary>
    /// <param name="content">The exact pushed bytes.</param>
    /// <param name="contentType">The Content-Type the client sent, possibly with parameters, or empty.</param>
    /// <param name="algorithm">The algorithm the manifest's own digest is computed with.</param>
    public static ParsedManifest Parse(ReadOnlySpan<byte> content, string? contentType, DigestAlgorithm algorithm)
    {
        var digest = Digest.Compute(algorithm, content);
        if (!System.Text.Unicode.Utf8.IsValid(content))
        {
            // JSON is UTF-8 (RFC 8259); the parser only checks the strings it decodes, and annotations are
            // served again as they came (referrers), so a bad byte must not get in.
            throw Invalid("manifest is not valid UTF-8");
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(content.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException ex)
        {
            throw Invalid("manifest is not valid JSON", ex.Message);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw Invalid("manifest must be a JSON object");
            }

            var mediaType = ResolveMediaType(root, contentType);
            if (!root.TryGetProperty("schemaVersion", out var version) || version.ValueKind != JsonValueKind.Number
                || !version.TryGetInt32(out var schemaVersion) || schemaVersion != 2)
            {
                throw Invalid("schemaVersion must be 2");
            }

            var blobs = new List<ManifestDescriptor>();
            var children = new List<ManifestDescriptor>();
            string? artifactType = OptionalString(root, "artifactType");
            if (MediaTypes.IsImageManifest(mediaType))
            {
                if (!root.TryGetProperty("config", out var config))
                {
                    throw Invalid("image manifest has no config descriptor");
                }

                var configDescriptor = ReadDescriptor(config, "config");
                blobs.Add(configDescriptor);
                foreach (var layer in RequiredArray(root, "layers"))
                {
                    blobs.Add(ReadDescriptor(layer, "layers[]"));
                }

                artifactType ??= configDescriptor.MediaType;
            }
            else
            {
                foreach (var child in RequiredArray(root, "manifests"))
                {
                    children.Add(ReadDescriptor(child, "manifests[]"));
                }
            }

            ManifestDescriptor? subject = null;
            if (root.TryGetProperty("subject", out var subjectElement) && subjectElement.ValueKind != JsonValueKind.Null)
            {
                subject = ReadDescriptor(subjectElement, "subject");
            }

            string? annotations = null;
            if (root.TryGetProperty("annotations", out var annotationsElement))
            {
                if (annotationsElement.ValueKind == JsonValueKind.Object)
                {
                    annotations = annotationsElement.GetRawText();
                }
                else if (annotationsElement.ValueKind != JsonValueKind.Null)
                {
                    throw Invalid("annotations must be an object");
                }
            }

            return new ParsedManifest
            {
                MediaType = mediaType,
                Digest = digest,
                Blobs = blobs,
                Children = children,
                Subject = subject,
                ArtifactType = artifactType,
                AnnotationsJson = annotations,
            };
        }
    }

    // The pushed Content-Type wins; the body's mediaType must agree with it when both are present.
    private static string ResolveMediaType(JsonElement root, string? contentType)
    {
        var declared = MediaTypes.WithoutParameters(contentType);
        var field = OptionalString(root, "mediaType");
        if (declared.Length == 0)
        {
            declared = field ?? string.Empty;
        }
        else if (field is not null && !string.Equals(field, declared, StringComparison.Ordinal))
        {
            throw Invalid("mediaType does not match Content-Type", $"mediaType '{field}', Content-Type '{declared}'");
        }

        if (declared.Length == 0)
        {
            throw Invalid("manifest media type unknown: send a Content-Type or a mediaType field");
        }

        if (declared is MediaTypes.DockerSchema1 or MediaTypes.DockerSchema1Signed)
        {
            throw Invalid("Docker schema 1 manifests are not supported", declared);
        }

        if (!MediaTypes.IsImageManifest(declared) && !MediaTypes.IsIndex(declared))
        {
            throw Invalid("unsupported manifest media type", declared);
        }

        return declared;
    }

    private static ManifestDescriptor ReadDescriptor(JsonElement element, string where)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            throw Invalid($"{where} must be a descriptor object");
        }

        var mediaType = OptionalString(element, "mediaType");
        if (string.IsNullOrEmpty(mediaType))
        {
            throw Invalid($"{where} has no mediaType");
        }

        var digestText = OptionalString(element, "digest");
        if (!Digest.TryParse(digestText, out var digest))
        {
            throw new OciException(OciErrorCode.DigestInvalid, $"{where} has an invalid digest", digestText);
        }

        if (!element.TryGetProperty("size", out var sizeElement) || sizeElement.ValueKind != JsonValueKind.Number
            || !sizeElement.TryGetInt64(out var size) || size < 0)
        {
            throw Invalid($"{where} has no valid size", digestText);
        }

        var hasUrls = element.TryGetProperty("urls", out var urls) && urls.ValueKind == JsonValueKind.Array
            && urls.GetArrayLength() > 0;
        return new ManifestDescriptor(mediaType, digest, size, hasUrls);
    }

    private static JsonElement.ArrayEnumerator RequiredArray(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var array) || array.ValueKind != JsonValueKind.Array)
        {
            throw Invalid($"manifest has no {name} array");
        }

        return array.EnumerateArray();
    }

    private static string? OptionalString(JsonElement element, string name)
    {
        if (!element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw Invalid($"{name} must be a string");
        }

        return value.GetString();
    }

    private static OciException Invalid(string message, string? detail = null) =>
        new(OciErrorCode.ManifestInvalid, message, detail);
}
