using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Registry.IntegrationTests.Support;

/// <summary>One page of a tags or catalog listing, with its next link if any.</summary>
public sealed partial class ListPage
{
    private ListPage(IReadOnlyList<string> items, string? name, string? next)
    {
        Items = items;
        Name = name;
        Next = next;
    }

    /// <summary>The tags or repositories of the page.</summary>
    public IReadOnlyList<string> Items { get; }

    /// <summary>The "name" member of a tags list.</summary>
    public string? Name { get; }

    /// <summary>The target of the Link rel="next" header, or null when absent.</summary>
    public string? Next { get; }

    /// <summary>Reads a 200 listing response; <paramref name="member"/> is "tags" or "repositories".</summary>
    public static async Task<ListPage> ReadAsync(HttpResponseMessage response, string member)
    {
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.Content.ReadAsStringAsync();
        using var document = JsonDocument.Parse(body);
        var array = document.RootElement.GetProperty(member);
        Assert.True(array.ValueKind == JsonValueKind.Array, $"'{member}' is not an array: {body}");
        var items = array.EnumerateArray().Select(item => item.GetString()!).ToList();
        var name = document.RootElement.TryGetProperty("name", out var nameElement) ? nameElement.GetString() : null;
        string? next = null;
        if (response.Headers.TryGetValues("Link", out var links))
        {
            var link = string.Join(",", links);
            var match = NextLink().Match(link);
            Assert.True(match.Success, "Link header is not a rel=\"next\" link: " + link);
            next = match.Groups["target"].Value;
        }

        return new ListPage(items, name, next);
    }

    [GeneratedRegex("<(?<target>[^>]+)>\\s*;\\s*rel=\"?next\"?")]
    private static partial Regex NextLink();
}
