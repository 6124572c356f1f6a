namespace Registry.Benchmarks.Scenarios;

/// <summary>Counts the entries a path pattern with "*" segments matches, such as upload-session folders.</summary>
internal static class UploadDirs
{
    /// <summary>The number of matches, or -1 when no pattern was given.</summary>
    public static int Count(string? pattern)
    {
        if (string.IsNullOrEmpty(pattern))
        {
            return -1;
        }

        IEnumerable<string> current = [pattern.StartsWith('/') ? "/" : "."];
        foreach (var segment in pattern.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            current = current.SelectMany(parent => Expand(parent, segment)).ToList();
        }

        return current.Count();
    }

    private static IEnumerable<string> Expand(string parent, string segment)
    {
        if (!Directory.Exists(parent))
        {
            return [];
        }

        if (!segment.Contains('*'))
        {
            var path = Path.Combine(parent, segment);
            return Path.Exists(path) ? [path] : [];
        }

        try
        {
            return Directory.EnumerateFileSystemEntries(parent, segment).ToList();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }
    }
}
