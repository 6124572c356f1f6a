namespace Registry.Benchmarks.Scenarios;

/// <summary>
/// How one open-loop operation ended: <paramref name="Kind"/> is null on success or a short kind, and
/// <paramref name="KeepConnection"/> says whether its connection may serve the next arrival.
/// </summary>
internal readonly record struct OpenLoopOutcome(string? Kind, bool KeepConnection)
{
    public static OpenLoopOutcome Success => new(null, true);

    /// <summary>A failure after which the connection is closed, not reused.</summary>
    public static OpenLoopOutcome Failed(string kind) => new(kind, false);
}
