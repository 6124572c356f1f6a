namespace Registry.Oci.Names;

/// <summary>
/// Validates repository names and tags against the distribution spec's grammar:
/// name <c>[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*</c>,
/// tag <c>[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}</c>. Hand-written scanners: they run on every request.
/// </summary>
public static class RepositoryName
{
    /// <summary>The longest repository name accepted (distribution's limit).</summary>
    public const int MaxLength = 255;

    /// <summary>The longest tag accepted.</summary>
    public const int MaxTagLength = 128;

    /// <summary>True when the name matches the spec's repository name grammar.</summary>
    public static bool IsValid(ReadOnlySpan<char> name)
    {
        if (name.IsEmpty || name.Length > MaxLength)
        {
            return false;
        }

        foreach (var component in name.Split('/'))
        {
            if (!IsValidComponent(name[component]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when the tag matches the spec's tag grammar.</summary>
    public static bool IsValidTag(ReadOnlySpan<char> tag)
    {
        if (tag.IsEmpty || tag.Length > MaxTagLength)
        {
            return false;
        }

        var first = tag[0];
        if (!char.IsAsciiLetterOrDigit(first) && first != '_')
        {
            return false;
        }

        foreach (var c in tag[1..])
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('_' or '.' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    // A component is alphanumeric runs joined by one separator: ".", "_", "__" or one or more "-".
    private static bool IsValidComponent(ReadOnlySpan<char> component)
    {
        if (component.IsEmpty || !IsLowerAlnum(component[0]) || !IsLowerAlnum(component[^1]))
        {
            return false;
        }

        var i = 0;
        while (i < component.Length)
        {
            if (IsLowerAlnum(component[i]))
            {
                i++;
                continue;
            }

            var start = i;
            while (i < component.Length && !IsLowerAlnum(component[i]))
            {
                i++;
            }

            if (!IsSeparator(component[start..i]))
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsSeparator(ReadOnlySpan<char> run)
    {
        if (run.SequenceEqual(".") || run.SequenceEqual("_") || run.SequenceEqual("__"))
        {
            return true;
        }

        foreach (var c in run)
        {
            if (c != '-')
            {
                return false;
            }
        }

        return true;
    }

    private static bool IsLowerAlnum(char c) => char.IsAsciiDigit(c) || char.IsAsciiLetterLower(c);
}
