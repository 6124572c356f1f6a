using Registry.Protos;

namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// What an operation asks the auth stage to grant: a resource and its actions. Made on every request, so it
/// is a value over shared pieces; the auth service's message is built from it only when the edge's cache
/// has no decision for it.
/// </summary>
internal readonly record struct ScopeDemand(string Type, string Name, ScopeActions Actions)
{
    /// <summary>A repository and the actions asked on it.</summary>
    public static ScopeDemand Repository(string name, ScopeActions actions) => new("repository", name, actions);

    /// <summary>The catalog: every action on the registry's "catalog" resource.</summary>
    public static ScopeDemand Catalog { get; } = new("registry", "catalog", ScopeActions.All);

    /// <summary>The auth service's message for this demand.</summary>
    public Scope ToProto()
    {
        var scope = new Scope { Type = Type, Name = Name };
        scope.Actions.AddRange(Actions.Items);
        return scope;
    }
}

/// <summary>A set of actions, made once per kind of request and compared by its text ("pull,push").</summary>
internal sealed class ScopeActions : IEquatable<ScopeActions>
{
    private readonly string _joined;

    private ScopeActions(params string[] items)
    {
        Items = items;
        _joined = string.Join(',', items);
    }

    public static ScopeActions Pull { get; } = new("pull");

    public static ScopeActions PullPush { get; } = new("pull", "push");

    public static ScopeActions Delete { get; } = new("delete");

    public static ScopeActions All { get; } = new("*");

    /// <summary>The actions, in the order the auth service receives them.</summary>
    public IReadOnlyList<string> Items { get; }

    public bool Equals(ScopeActions? other) => other is not null && string.Equals(_joined, other._joined, StringComparison.Ordinal);

    public override bool Equals(object? obj) => Equals(obj as ScopeActions);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(_joined);

    public override string ToString() => _joined;
}
