using System.Buffers.Binary;

namespace Registry.Hosting.Observability.Admin.GcDump;

/// <summary>
/// Writes a <see cref="HeapGraph"/> as a .gcdump: the object-stream format PerfView, dotnet-gcdump and
/// Visual Studio read ("!FastSerialization.1"). The stream is a tree of tagged objects, each opened by a
/// begin tag, the description of its type (full name and version, given in full the first time and by
/// stream offset afterwards), its fields, and an end tag. The entry object is a GCHeapDump (version 10,
/// readable by readers of version 8 and later) whose first field is the Graphs.MemoryGraph (version 1).
/// After the entry object come an unmatched end tag, an empty table of forward references, a trailer
/// pointing at that table, and the offset of the trailer as the last four bytes. Integers are little
/// endian; stream offsets are four bytes; a string is its UTF-16 length followed by each char encoded as
/// UTF-8 on its own (-1 for null).
/// </summary>
internal sealed class GcDumpWriter
{
    private const byte TagNull = 1;
    private const byte TagObjectReference = 2;
    private const byte TagBeginObject = 4;
    private const byte TagEndObject = 6;
    private const byte TagByte = 8;
    private const byte TagString = 13;

    private readonly Stream _output;
    private readonly Dictionary<string, int> _typeOffsets = new(StringComparer.Ordinal);
    private readonly byte[] _scratch = new byte[8];
    private long _position;

    private GcDumpWriter(Stream output)
    {
        _output = output;
    }

    /// <summary>What the file says about where and when the heap was taken.</summary>
    internal sealed record Metadata(
        DateTime TimeCollected,
        string MachineName,
        string ProcessName,
        int ProcessId,
        long ProcessCommitBytes,
        long ProcessWorkingSetBytes,
        string? CollectionLog,
        string CreationTool,
        bool Is64Bit);

    /// <summary>Writes the whole file to <paramref name="output"/> (buffer it: the writer issues small writes).</summary>
    public static void Write(Stream output, HeapGraph graph, Metadata metadata)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(metadata);
        if (graph.RootIndex < 0)
        {
            throw new InvalidOperationException("The graph has no root.");
        }

        new GcDumpWriter(output).WriteFile(graph, metadata);
    }

    private void WriteFile(HeapGraph graph, Metadata metadata)
    {
        WriteString("!FastSerialization.1");

        // The entry object.
        BeginObject("GCHeapDump", version: 10, minimumReaderVersion: 8);
        WriteMemoryGraph(graph, metadata.Is64Bit);
        WriteByte(metadata.Is64Bit ? (byte)1 : (byte)0); // repeated from the graph for old readers
        WriteInt32(BitConverter.SingleToInt32Bits(1f)); // count multiplier: not sampled
        WriteInt32(BitConverter.SingleToInt32Bits(1f)); // size multiplier: not sampled
        WriteByte(TagNull);                             // no JavaScript heap information
        WriteByte(TagNull);                             // no .NET segment information
        WriteString(metadata.CollectionLog);
        WriteInt64(metadata.TimeCollected.Ticks);
        WriteString(metadata.MachineName);
        WriteString(metadata.ProcessName);
        WriteInt32(metadata.ProcessId);
        WriteInt64(metadata.ProcessCommitBytes);
        WriteInt64(metadata.ProcessWorkingSetBytes);
        WriteInt32(0);                                  // no per-type count multipliers
        // Fields added after version 8 are tagged, so readers can skip them; the interop (COM) field is
        // left out, which readers take as absent.
        WriteByte(TagString);
        WriteString(metadata.CreationTool);
        WriteByte(TagEndObject);

        // The end of objects, the (empty) forward reference table, the trailer and the suffix.
        WriteByte(TagEndObject);
        var forwardReferences = _position;
        WriteInt32(0);
        var trailer = _position;
        WriteInt32(checked((int)forwardReferences));
        WriteInt32(checked((int)trailer));
    }

    private void WriteMemoryGraph(HeapGraph graph, bool is64Bit)
    {
        BeginObject("Graphs.MemoryGraph", version: 1, minimumReaderVersion: 0);
        WriteInt64(graph.TotalSize);
        WriteInt32(graph.RootIndex);

        WriteInt32(graph.TypeCount);
        foreach (var type in graph.Types)
        {
            WriteString(type.Name);
            WriteInt32(type.Size);
            WriteString(type.ModuleName);
        }

        WriteInt32(graph.NodeCount);
        foreach (var offset in graph.RecordOffsets)
        {
            WriteInt32(offset);
        }

        var blob = graph.Blob;
        WriteInt32(blob.Length);
        WriteBytes(blob);

        // Readers of version 1 expect an extension region only when the graph has deferred type names,
        // which this one never has. Then the address of every node, and whether addresses are 64-bit.
        WriteInt32(graph.NodeCount);
        foreach (var address in graph.Addresses)
        {
            WriteInt64(unchecked((long)address));
        }

        WriteByte(TagByte);
        WriteByte(is64Bit ? (byte)1 : (byte)0);
        WriteByte(TagEndObject);
    }

    // An object's begin tag and its type: the type's own description the first time it is used (a
    // type object whose type is given as null, meaning "a type"), a reference to that description after.
    private void BeginObject(string typeName, int version, int minimumReaderVersion)
    {
        WriteByte(TagBeginObject);
        if (_typeOffsets.TryGetValue(typeName, out var offset))
        {
            WriteByte(TagObjectReference);
            WriteInt32(offset);
            return;
        }

        _typeOffsets.Add(typeName, checked((int)_position));
        WriteByte(TagBeginObject);
        WriteByte(TagNull);
        WriteInt32(version);
        WriteInt32(minimumReaderVersion);
        WriteString(typeName);
        WriteByte(TagEndObject);
    }

    private void WriteString(string? value)
    {
        if (value is null)
        {
            WriteInt32(-1);
            return;
        }

        WriteInt32(value.Length);
        Span<byte> encoded = stackalloc byte[3];
        foreach (var c in value)
        {
            int count;
            if (c < 0x80)
            {
                encoded[0] = (byte)c;
                count = 1;
            }
            else if (c < 0x800)
            {
                encoded[0] = (byte)(0xC0 | (c >> 6));
                encoded[1] = (byte)(0x80 | (c & 0x3F));
                count = 2;
            }
            else
            {
                // Each UTF-16 unit on its own, surrogates included, as the format's readers decode it.
                encoded[0] = (byte)(0xE0 | (c >> 12));
                encoded[1] = (byte)(0x80 | ((c >> 6) & 0x3F));
                encoded[2] = (byte)(0x80 | (c & 0x3F));
                count = 3;
            }

            WriteBytes(encoded[..count]);
        }
    }

    private void WriteByte(byte value)
    {
        _output.WriteByte(value);
        _position++;
    }

    private void WriteInt32(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_scratch, value);
        WriteBytes(_scratch.AsSpan(0, 4));
    }

    private void WriteInt64(long value)
    {
        BinaryPrimitives.WriteInt64LittleEndian(_scratch, value);
        WriteBytes(_scratch.AsSpan(0, 8));
    }

    private void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        _output.Write(bytes);
        _position += bytes.Length;
    }
}
