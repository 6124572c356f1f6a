using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace Registry.Hosting.Observability.Admin.GcDump;

/// <summary>
/// Reads the heap walk out of a .nettrace that recorded the runtime's heap-snapshot events, and builds
/// the <see cref="HeapGraph"/> a .gcdump holds. The runtime walks the heap inside one induced, blocking
/// gen2 collection: between that collection's start and end it sends the live objects in numbered
/// batches (address, size, type id, number of references), the references of those objects in numbered
/// batches of their own (in the same order, so the n-th object owns the next "number of references"
/// targets), and the roots (stack, handles, statics, dependent handles). Type ids are named by the
/// bulk-type events, and type ids' modules by the loader's module events (from the rundown at the end).
/// </summary>
internal sealed class HeapSnapshotReader
{
    // Objects larger than these get a type of their own, so one large array does not stand for the
    // size of every array of its type in views that show a type's size.
    private static readonly (long Bytes, string Label)[] LargeObjectBands =
    [
        (100_000_000, "100 MB"), (10_000_000, "10 MB"), (1_000_000, "1 MB"),
        (100_000, "100 KB"), (10_000, "10 KB"), (1_000, "1 KB"),
    ];

    private readonly int _processId;
    private readonly Dictionary<ulong, (string Name, ulong ModuleId)> _typeNames = [];
    private readonly Dictionary<ulong, string> _modulePaths = [];
    private readonly List<(int Index, RawNode[] Nodes)> _nodeBatches = [];
    private readonly List<(int Index, ulong[] Targets)> _edgeBatches = [];
    private readonly List<(ulong Address, string Group)> _rootEdges = [];
    private readonly List<(ulong Address, ulong TypeId, string Field, bool ThreadLocal)> _statics = [];
    private readonly List<ulong> _dependents = [];
    private int _walkGc = -1;
    private bool _inWalk;
    private bool _walkEnded;

    private HeapSnapshotReader(int processId)
    {
        _processId = processId;
    }

    /// <summary>Reads <paramref name="nettracePath"/> and builds the graph of the first complete heap walk in it.</summary>
    public static HeapSnapshot Read(string nettracePath, int processId, CancellationToken cancellationToken)
    {
        var reader = new HeapSnapshotReader(processId);
        using (var source = new EventPipeEventSource(nettracePath))
        {
            reader.Subscribe(source);
            using var stop = cancellationToken.Register(static state => ((TraceEventDispatcher)state!).StopProcessing(), source);
            source.Process();
        }

        cancellationToken.ThrowIfCancellationRequested();
        var snapshot = reader.Build();

        // The event source outlives this call (something in TraceEvent keeps the last one reachable, and
        // with it the callbacks into this reader): drop what was read so only the empty reader stays.
        reader.Release();
        return snapshot;
    }

    private void Subscribe(EventPipeEventSource source)
    {
        source.Clr.GCStart += OnGcStart;
        source.Clr.GCStop += OnGcStop;
        source.Clr.TypeBulkType += OnBulkType;
        source.Clr.GCBulkNode += OnBulkNode;
        source.Clr.GCBulkEdge += OnBulkEdge;
        source.Clr.GCBulkRootEdge += OnBulkRootEdge;
        source.Clr.GCBulkRootStaticVar += OnBulkRootStaticVar;
        source.Clr.GCBulkRootConditionalWeakTableElementEdge += OnDependentHandles;
        source.Clr.LoaderModuleLoad += OnModule;
        var rundown = new ClrRundownTraceEventParser(source);
        rundown.LoaderModuleDCStop += OnModule;
        rundown.LoaderModuleDCStart += OnModule;
    }

    private bool Wanted(TraceEvent data) => data.ProcessID == _processId && _inWalk;

    private void OnGcStart(GCStartTraceData data)
    {
        if (data.ProcessID != _processId || _walkEnded || _walkGc >= 0)
        {
            return;
        }

        // The heap walk runs in an induced gen2 collection that blocks (never a background one).
        if (data.Depth == 2 && data.Type != GCType.BackgroundGC && data.Reason == GCReason.Induced)
        {
            _walkGc = data.Count;
            _inWalk = true;
        }
    }

    private void OnGcStop(GCEndTraceData data)
    {
        if (data.ProcessID != _processId || !_inWalk || data.Count != _walkGc)
        {
            return;
        }

        _inWalk = false;
        if (_nodeBatches.Count == 0)
        {
            // An induced collection that walked nothing (someone else's GC.Collect): wait for the next.
            _walkGc = -1;
            _rootEdges.Clear();
            _statics.Clear();
            _dependents.Clear();
            _edgeBatches.Clear();
            return;
        }

        _walkEnded = true;
    }

    private void OnBulkType(GCBulkTypeTraceData data)
    {
        // Types are named whenever the runtime first mentions them, so these count outside the walk too.
        if (data.ProcessID != _processId)
        {
            return;
        }

        for (var i = 0; i < data.Count; i++)
        {
            var type = data.Values(i);
            _typeNames.TryAdd(type.TypeID, (type.TypeName, type.ModuleID));
        }
    }

    private void OnBulkNode(GCBulkNodeTraceData data)
    {
        if (!Wanted(data))
        {
            return;
        }

        // The values are views over the event's buffer, which the source reuses: copy them out.
        var nodes = new RawNode[data.Count];
        for (var i = 0; i < nodes.Length; i++)
        {
            var node = data.Values(i);
            nodes[i] = new RawNode(node.Address, node.Size, node.TypeID, node.EdgeCount);
        }

        _nodeBatches.Add((data.Index, nodes));
    }

    private void OnBulkEdge(GCBulkEdgeTraceData data)
    {
        if (!Wanted(data))
        {
            return;
        }

        var targets = new ulong[data.Count];
        for (var i = 0; i < targets.Length; i++)
        {
            targets[i] = data.Values(i).Target;
        }

        _edgeBatches.Add((data.Index, targets));
    }

    private void OnBulkRootEdge(GCBulkRootEdgeTraceData data)
    {
        if (!Wanted(data))
        {
            return;
        }

        for (var i = 0; i < data.Count; i++)
        {
            var root = data.Values(i);
            var flags = root.GCRootFlag;
            if ((flags & GCRootFlags.WeakRef) != 0 || root.RootedNodeAddress == 0)
            {
                continue;   // a weak reference keeps nothing alive
            }

            var group = root.GCRootKind switch
            {
                GCRootKind.Stack => "[local vars]",
                GCRootKind.Finalizer => "[finalizer Handles]",
                GCRootKind.Handle when (flags & GCRootFlags.Pinning) != 0 => "[pinning Handles]",
                GCRootKind.Handle => "[strong Handles]",
                _ => "[other Handles]",
            };
            _rootEdges.Add((root.RootedNodeAddress, group));
        }
    }

    private void OnBulkRootStaticVar(GCBulkRootStaticVarTraceData data)
    {
        if (!Wanted(data))
        {
            return;
        }

        for (var i = 0; i < data.Count; i++)
        {
            var root = data.Values(i);
            if (root.ObjectID != 0)
            {
                var threadLocal = (root.Flags & GCRootStaticVarFlags.ThreadLocal) != 0;
                _statics.Add((root.ObjectID, root.TypeID, root.FieldName, threadLocal));
            }
        }
    }

    private void OnDependentHandles(GCBulkRootConditionalWeakTableElementEdgeTraceData data)
    {
        if (!Wanted(data))
        {
            return;
        }

        for (var i = 0; i < data.Count; i++)
        {
            var edge = data.Values(i);
            if (edge.GCKeyNodeID != 0 && edge.GCValueNodeID != 0)
            {
                _dependents.Add(edge.GCValueNodeID);   // the value lives as long as its (live) key
            }
        }
    }

    private void OnModule(ModuleLoadUnloadTraceData data)
    {
        if (data.ProcessID == _processId && !string.IsNullOrEmpty(data.ModuleILPath))
        {
            _modulePaths.TryAdd(unchecked((ulong)data.ModuleID), data.ModuleILPath);
        }
    }

    private HeapSnapshot Build()
    {
        if (!_walkEnded)
        {
            return new HeapSnapshot(null, 0, _walkGc >= 0
                ? "the trace holds the start of a heap walk but not its end"
                : "the trace holds no heap walk");
        }

        var graph = new HeapGraph();
        var types = new Dictionary<(string Name, string? Module), int>();
        var root = new RootGroup(graph.AddNode(), "[.NET Roots]");
        graph.RootIndex = root.Node;

        // 1. Objects and their references, batch by batch in the order the runtime numbered them.
        _nodeBatches.Sort(static (a, b) => a.Index.CompareTo(b.Index));
        _edgeBatches.Sort(static (a, b) => a.Index.CompareTo(b.Index));
        var edgeBatch = 0;
        var edgeInBatch = 0;
        var objects = 0;
        string? problem = null;
        var children = new List<int>();
        foreach (var (_, nodes) in _nodeBatches)
        {
            foreach (var node in nodes)
            {
                children.Clear();
                for (long e = 0; e < node.EdgeCount && problem is null; e++)
                {
                    while (edgeBatch < _edgeBatches.Count && edgeInBatch >= _edgeBatches[edgeBatch].Targets.Length)
                    {
                        edgeBatch++;
                        edgeInBatch = 0;
                    }

                    if (edgeBatch == _edgeBatches.Count)
                    {
                        problem = "the heap walk's references ended before its objects";
                        break;
                    }

                    children.Add(graph.NodeAt(_edgeBatches[edgeBatch].Targets[edgeInBatch++]));
                }

                var size = (long)Math.Min(node.Size, int.MaxValue);
                var type = TypeOf(graph, types, node.TypeId, size);
                graph.Define(graph.NodeAt(node.Address), type, size, CollectionsMarshal.AsSpan(children));
                objects++;
            }
        }

        // 2. Roots, grouped the way heap viewers expect: locals, handles by kind, statics by field.
        var other = root.Child(graph, "[other roots]");
        foreach (var (address, group) in _rootEdges)
        {
            var parent = group == "[local vars]" ? root : other;
            parent.Child(graph, group).Children.Add(graph.NodeAt(address));
        }

        foreach (var (address, typeId, field, threadLocal) in _statics)
        {
            var typeName = _typeNames.TryGetValue(typeId, out var named) ? DisplayName(named.Name, typeId) : $"Type(0x{typeId:x})";
            var group = root.Child(graph, threadLocal ? "[thread static vars]" : "[static vars]");
            group.Child(graph, $"[static var {typeName}.{field}]").Children.Add(graph.NodeAt(address));
        }

        if (_dependents.Count > 0)
        {
            var dependents = other.Child(graph, "[Dependent Handles]");
            foreach (var address in _dependents)
            {
                dependents.Children.Add(graph.NodeAt(address));
            }
        }

        root.Define(graph, types);
        return new HeapSnapshot(graph, objects, problem);
    }

    private void Release()
    {
        _nodeBatches.Clear();
        _nodeBatches.TrimExcess();
        _edgeBatches.Clear();
        _edgeBatches.TrimExcess();
        _rootEdges.Clear();
        _rootEdges.TrimExcess();
        _statics.Clear();
        _statics.TrimExcess();
        _dependents.Clear();
        _dependents.TrimExcess();
        _typeNames.Clear();
        _typeNames.TrimExcess();
        _modulePaths.Clear();
        _modulePaths.TrimExcess();
    }

    private int TypeOf(HeapGraph graph, Dictionary<(string Name, string? Module), int> types, ulong typeId, long size)
    {
        string name;
        string? module = null;
        if (_typeNames.TryGetValue(typeId, out var named))
        {
            name = DisplayName(named.Name, typeId);
            _modulePaths.TryGetValue(named.ModuleId, out module);
        }
        else
        {
            name = $"UNKNOWN 0x{typeId:x}";
        }

        foreach (var (bytes, label) in LargeObjectBands)
        {
            if (size >= bytes)
            {
                name = $"{name} (Bytes > {label})";
                break;
            }
        }

        if (!types.TryGetValue((name, module), out var index))
        {
            index = graph.AddType(name, module);
            types.Add((name, module), index);
        }

        return index;
    }

    // The runtime names generic types the reflection way (List`1[System.String]); heap viewers show them
    // the C# way (List<System.String>), and arrays keep their brackets.
    internal static string DisplayName(string runtimeName, ulong typeId)
    {
        if (string.IsNullOrEmpty(runtimeName))
        {
            return $"Type(0x{typeId:x})";
        }

        var text = new StringBuilder(runtimeName.Length);
        for (var i = 0; i < runtimeName.Length; i++)
        {
            var c = runtimeName[i];
            if (c == '`' && i + 1 < runtimeName.Length && char.IsAsciiDigit(runtimeName[i + 1]))
            {
                while (i + 1 < runtimeName.Length && char.IsAsciiDigit(runtimeName[i + 1]))
                {
                    i++;
                }

                continue;
            }

            if (c == '[')
            {
                // An array rank ([] or [,,]) stays; a generic argument list becomes <...>.
                var end = i + 1;
                while (end < runtimeName.Length && runtimeName[end] == ',')
                {
                    end++;
                }

                if (end < runtimeName.Length && runtimeName[end] == ']')
                {
                    text.Append(runtimeName, i, end - i + 1);
                    i = end;
                    continue;
                }

                text.Append('<');
                continue;
            }

            text.Append(c == ']' ? '>' : c);
        }

        return text.ToString();
    }

    /// <summary>One object of the heap walk, copied out of its event.</summary>
    private readonly record struct RawNode(ulong Address, ulong Size, ulong TypeId, long EdgeCount);

    /// <summary>A pseudo node that groups roots; defined after every object, once its children are known.</summary>
    private sealed class RootGroup(int node, string name)
    {
        private readonly List<RootGroup> _groups = [];
        private readonly Dictionary<string, RootGroup> _byName = new(StringComparer.Ordinal);

        public int Node { get; } = node;

        public string Name { get; } = name;

        public List<int> Children { get; } = [];

        public RootGroup Child(HeapGraph graph, string childName)
        {
            if (_byName.TryGetValue(childName, out var existing))
            {
                return existing;
            }

            var created = new RootGroup(graph.AddNode(), childName);
            _groups.Add(created);
            _byName.Add(childName, created);
            Children.Add(created.Node);
            return created;
        }

        public void Define(HeapGraph graph, Dictionary<(string Name, string? Module), int> types)
        {
            if (!types.TryGetValue((Name, null), out var type))
            {
                type = graph.AddType(Name, moduleName: null);
                types.Add((Name, null), type);
            }

            graph.Define(Node, type, 0, CollectionsMarshal.AsSpan(Children));
            foreach (var group in _groups)
            {
                group.Define(graph, types);
            }
        }
    }
}
