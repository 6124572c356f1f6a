using System.Collections.Concurrent;

namespace Registry.Benchmarks.Scenarios;

/// <summary>Error kinds counted from many tasks at once.</summary>
internal sealed class ConcurrentCounter
{
    private readonly ConcurrentDictionary<string, long> _counts = new(StringComparer.Ordinal);

    public long Total => _counts.Values.Sum();

    public void Add(string kind) => _counts.AddOrUpdate(kind, 1, static (_, n) => n + 1);

    public Dictionary<string, long> Snapshot() => new(_counts, StringComparer.Ordinal);
}
