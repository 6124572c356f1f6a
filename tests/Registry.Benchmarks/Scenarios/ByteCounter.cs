namespace Registry.Benchmarks.Scenarios;

/// <summary>Bytes moved by all workers of a run, added without locks.</summary>
internal sealed class ByteCounter
{
    private long _value;

    public long Value => Interlocked.Read(ref _value);

    public void Add(long bytes) => Interlocked.Add(ref _value, bytes);

    public void Reset() => Interlocked.Exchange(ref _value, 0);
}
