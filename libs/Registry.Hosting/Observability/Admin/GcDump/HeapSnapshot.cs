namespace Registry.Hosting.Observability.Admin.GcDump;

/// <summary>
/// The graph of one heap walk (null when the trace held none), the number of objects in it, and what
/// went wrong while reading it, if anything (a graph can come with a problem: then it is partial).
/// </summary>
internal sealed record HeapSnapshot(HeapGraph? Graph, int ObjectCount, string? Problem);
