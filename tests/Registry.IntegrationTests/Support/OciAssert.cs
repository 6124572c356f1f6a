using System.Net;
using System.Text.Json;

namespace Registry.IntegrationTests.Support;

/// <summary>Assertions on the shapes the distribution spec gives responses.</summary>
public static class OciAssert
{
    /// <summary>
    /// Asserts an OCI error response: the status, <c>Content-Type: application/json</c> and a body
    /// <c>{"errors":[{"code","message","detail"}]}</c> whose codes include <paramref name="code"/>.
    /// </summary>
    public static async Task ErrorAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(
            response.StatusCode == status,
            $"Expected {(int)status} {code}, got {(int)response.StatusCode}: {Describe(response)} body: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var codes = ErrorCodes(body);
        Assert.True(codes.Contains(code, StringComparer.Ordinal), $"Expected code {code}, got [{string.Join(",", codes)}]: {body}");
    }

    /// <summary>Parses an OCI error body, asserting each error has code, message and detail members.</summary>
    public static IReadOnlyList<string> ErrorCodes(string body)
    {
        using var document = JsonDocument.Parse(body);
        Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        var errors = document.RootElement.GetProperty("errors");
        Assert.Equal(JsonValueKind.Array, errors.ValueKind);
        Assert.True(errors.GetArrayLength() > 0, "errors array is empty: " + body);
        var codes = new List<string>();
        foreach (var error in errors.EnumerateArray())
        {
            Assert.Equal(JsonValueKind.String, error.GetProperty("code").ValueKind);
            Assert.Equal(JsonValueKind.String, error.GetProperty("message").ValueKind);
            Assert.True(error.TryGetProperty("detail", out _), "error has no detail member: " + body);
            codes.Add(error.GetProperty("code").GetString()!);
        }

        return codes;
    }

    /// <summary>Asserts the status, with the response described when it differs.</summary>
    public static void Status(HttpResponseMessage response, HttpStatusCode expected)
    {
        if (response.StatusCode != expected)
        {
            // The content is already buffered (ResponseContentRead), so a synchronous read does not block.
            using var reader = new StreamReader(response.Content.ReadAsStream());
            var body = reader.ReadToEnd();
            Assert.Fail($"Expected {(int)expected}, got {(int)response.StatusCode}: {Describe(response)} body: {Truncate(body)}");
        }
    }

    /// <summary>Asserts a relative Location that starts with the prefix, and returns it.</summary>
    public static string Location(HttpResponseMessage response, string prefix)
    {
        var location = Header(response, "Location");
        Assert.False(location is null, $"No Location header: {Describe(response)}");
        Assert.StartsWith(prefix, location, StringComparison.Ordinal);
        return location;
    }

    /// <summary>The single value of a response or content header, or null.</summary>
    public static string? Header(HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
        {
            return string.Join(",", values);
        }

        return null;
    }

    /// <summary>Asserts a header is present with the exact value.</summary>
    public static void HeaderEqual(HttpResponseMessage response, string name, string expected)
    {
        var actual = Header(response, name);
        Assert.True(
            string.Equals(expected, actual, StringComparison.Ordinal),
            $"Header {name}: expected '{expected}', got '{actual ?? "<absent>"}'. {Describe(response)}");
    }

    /// <summary>Asserts the Content-Length header has the exact value.</summary>
    public static void ContentLength(HttpResponseMessage response, long expected)
    {
        Assert.True(
            response.Content.Headers.ContentLength == expected,
            $"Content-Length: expected {expected}, got {response.Content.Headers.ContentLength?.ToString() ?? "<absent>"}. {Describe(response)}");
    }

    /// <summary>A one-line description of a response's status and headers for failure messages.</summary>
    public static string Describe(HttpResponseMessage response)
    {
        var headers = response.Headers.Concat(response.Content.Headers)
            .Select(header => $"{header.Key}: {string.Join(",", header.Value)}");
        return $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery} -> "
            + $"{(int)response.StatusCode} [{string.Join("; ", headers)}]";
    }

    private static string Truncate(string body) => body.Length <= 500 ? body : body[..500] + "…";
}
