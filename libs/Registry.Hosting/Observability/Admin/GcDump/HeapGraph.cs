using System.Buffers;

namespace Registry.Hosting.Observability.Admin.GcDump;

/// <summary>
/// The heap as a graph, in the shape a .gcdump stores it: a table of types, one entry per node (its
/// address and where its record starts in a byte blob), and the blob of node records. A record is the
/// node's type (and its size when it differs from the size the type took from its first node), its
/// child count and each child as a distance from the node's own index, all as variable-length integers.
/// Nodes may be referred to before they are defined (the heap has cycles); a node never defined points
/// at the record written first, which has type 0 ("UNDEFINED"), size 0 and no children.
/// </summary>
internal sealed class HeapGraph
{
    private readonly List<TypeEntry> _types = [];
    private readonly List<int> _records = [];
    private readonly List<ulong> _addresses = [];
    private readonly Dictionary<ulong, int> _byAddress = [];
    private readonly ArrayBufferWriter<byte> _blob = new(1 << 16);
    private readonly HashSet<int> _defined = [];

    public HeapGraph()
    {
        // The record of every node not (yet) defined: type 0, size 0, no children. It starts the blob
        // at offset 0, so an undefined node simply keeps record offset 0.
        var undefined = AddType("UNDEFINED", moduleName: null);
        SetTypeSize(undefined, 0);
        WriteVarInt(undefined << 1);
        WriteVarInt(0);
    }

    /// <summary>The index of the root node; set once the roots are built.</summary>
    public int RootIndex { get; set; } = -1;

    /// <summary>Sum of the sizes of every defined node.</summary>
    public long TotalSize { get; private set; }

    public int NodeCount => _records.Count;

    public int TypeCount => _types.Count;

    public int ReferenceCount { get; private set; }

    public IReadOnlyList<TypeEntry> Types => _types;

    public IReadOnlyList<int> RecordOffsets => _records;

    public IReadOnlyList<ulong> Addresses => _addresses;

    public ReadOnlySpan<byte> Blob => _blob.WrittenSpan;

    /// <summary>Adds a type; its size is taken from the first node defined with it.</summary>
    public int AddType(string name, string? moduleName)
    {
        _types.Add(new TypeEntry(name, moduleName, -1));
        return _types.Count - 1;
    }

    /// <summary>A new node with no address (a pseudo node such as a root group), undefined until <see cref="Define"/>.</summary>
    public int AddNode()
    {
        _records.Add(0);
        _addresses.Add(0);
        return _records.Count - 1;
    }

    /// <summary>The node of the object at <paramref name="address"/>, created undefined on first sight.</summary>
    public int NodeAt(ulong address)
    {
        if (!_byAddress.TryGetValue(address, out var index))
        {
            index = AddNode();
            _addresses[index] = address;
            _byAddress.Add(address, index);
        }

        return index;
    }

    public bool IsDefined(int node) => _defined.Contains(node);

    /// <summary>Writes the node's record. A node is defined once; later calls for it are ignored.</summary>
    public void Define(int node, int type, long size, ReadOnlySpan<int> children)
    {
        if (!_defined.Add(node))
        {
            return;
        }

        var clamped = (int)Math.Clamp(size, 0, int.MaxValue);
        _records[node] = _blob.WrittenCount;
        var entry = _types[type];
        if (entry.Size < 0)
        {
            SetTypeSize(type, clamped);
            entry = _types[type];
        }

        if (entry.Size == clamped)
        {
            WriteVarInt(type << 1);
        }
        else
        {
            WriteVarInt((type << 1) | 1);
            WriteVarInt(clamped);
        }

        WriteVarInt(children.Length);
        foreach (var child in children)
        {
            WriteVarInt(child - node);
        }

        TotalSize += clamped;
        ReferenceCount += children.Length;
    }

    private void SetTypeSize(int type, int size) => _types[type] = _types[type] with { Size = size };

    // Big-endian groups of 7 bits, the first group sign-extended, a set high bit on every byte but the
    // last: the fewest groups (1 to 5) that hold the value as a signed number.
    private void WriteVarInt(int value)
    {
        var groups = 1;
        while (groups < 5 && !FitsSigned(value, 7 * groups))
        {
            groups++;
        }

        var span = _blob.GetSpan(groups);
        for (var i = 0; i < groups; i++)
        {
            var shift = 7 * (groups - 1 - i);
            var bits = (byte)((value >> shift) & 0x7F);
            span[i] = i < groups - 1 ? (byte)(bits | 0x80) : bits;
        }

        _blob.Advance(groups);
    }

    private static bool FitsSigned(int value, int bits)
    {
        var min = -(1L << (bits - 1));
        var max = (1L << (bits - 1)) - 1;
        return value >= min && value <= max;
    }

    /// <summary>A type of node: its display name, the module that defines it (a path, or null), and its size.</summary>
    internal readonly record struct TypeEntry(string Name, string? ModuleName, int Size);
}
