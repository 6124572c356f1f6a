using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Registry.Storage.Filesystem;

/// <summary>
/// Files written and read past the page cache (Linux <c>O_DIRECT</c>), for upload chunks: bytes written
/// once, read back once to be hashed, renamed into place and then left alone until someone pulls them.
/// Through the page cache every such MiB costs a kernel copy into freshly allocated pages, and on a
/// virtual machine that hands its free memory back to the host (virtio-balloon free page reporting, as on
/// the machines in docs/performance.md) every fresh page also costs a fault on the host: about 2.5 ms of
/// CPU per MiB, more than half of what a 1 MiB push cost the registry. Uncached, the disk takes the bytes
/// straight from a few reused buffers. What is given up: the first pull of a blob reads it from disk
/// rather than from the cache, and a write waits for the disk (the caller's thread, not the CPU).
/// Transfers go through page-aligned buffers of <see cref="BufferSize"/> bytes, at most
/// <see cref="MaxBuffers"/> of them, allocated on first use and kept. When all are in use, when the
/// filesystem refuses <c>O_DIRECT</c> (tmpfs before Linux 6.6, some network mounts) or elsewhere than Linux,
/// the open methods return null and the caller uses cached I/O.
/// </summary>
public static class UncachedFile
{
    /// <summary>Offsets, lengths and buffer addresses of uncached transfers are multiples of this (a page; 512 would do for most disks).</summary>
    public const int Alignment = 4096;

    /// <summary>The bytes one uncached write or read moves at most.</summary>
    public const int BufferSize = 128 * 1024;

    /// <summary>Buffers there can be at once: eight per CPU (2 MiB on two cores).</summary>
    public static readonly int MaxBuffers = 8 * Environment.ProcessorCount;

    private static readonly ConcurrentQueue<AlignedBuffer> Idle = new();
    private static int _buffers;

    // Set once the filesystem refused O_DIRECT (EINVAL at open, or a transfer it would not take): the data
    // directory does not take it, so no later file tries again.
    private static volatile bool _refused;

    /// <summary>False elsewhere than Linux and once the filesystem has refused uncached I/O (cached I/O is used from then on).</summary>
    public static bool Available => OperatingSystem.IsLinux() && !_refused;

    /// <summary>
    /// Creates a new file for uncached writing, or returns null when that cannot be done here (then
    /// nothing was created: open the file the usual way, which also reports why a path is unusable).
    /// </summary>
    public static UncachedWriter? TryCreate(string path)
    {
        if (!Available || Rent() is not { } buffer)
        {
            return null;
        }

        var fd = NativeMethods.Open(path, NativeMethods.CreateNewUncached, 0x1B6); // mode 0666, less the umask
        if (fd >= 0)
        {
            return new UncachedWriter(new SafeFileHandle(fd, ownsHandle: true), buffer);
        }

        var error = Marshal.GetLastPInvokeError();
        Idle.Enqueue(buffer);
        if (error == NativeMethods.InvalidArgument)
        {
            // The filesystem creates the file before it looks at O_DIRECT: the name is new (O_EXCL), so the file is ours to remove.
            _refused = true;
            File.Delete(path);
        }

        return null;
    }

    /// <summary>Opens a file for uncached reading from its start, or returns null when that cannot be done here.</summary>
    public static UncachedReader? TryOpenRead(string path)
    {
        if (!Available || Rent() is not { } buffer)
        {
            return null;
        }

        var fd = NativeMethods.Open(path, NativeMethods.ReadOnlyUncached);
        if (fd >= 0)
        {
            return new UncachedReader(new SafeFileHandle(fd, ownsHandle: true), buffer);
        }

        if (Marshal.GetLastPInvokeError() == NativeMethods.InvalidArgument)
        {
            _refused = true;
        }

        Idle.Enqueue(buffer);
        return null;
    }

    /// <summary>Buffers allocated so far (for tests).</summary>
    public static int AllocatedBuffers => Volatile.Read(ref _buffers);

    private static AlignedBuffer? Rent()
    {
        if (Idle.TryDequeue(out var buffer))
        {
            return buffer;
        }

        if (Interlocked.Increment(ref _buffers) > MaxBuffers)
        {
            Interlocked.Decrement(ref _buffers);
            return null;
        }

        return new AlignedBuffer(BufferSize);
    }

    internal static void Return(AlignedBuffer buffer) => Idle.Enqueue(buffer);

    internal static void Refuse() => _refused = true;
}

/// <summary>
/// Writes a new file from its start past the page cache: bytes gather in an aligned buffer and go to disk
/// a buffer at a time; <see cref="Complete"/> writes the rest. Not for use from two threads at once.
/// </summary>
public sealed class UncachedWriter : IDisposable
{
    private readonly SafeFileHandle _file;
    private AlignedBuffer? _buffer;
    private long _written;
    private int _filled;

    internal UncachedWriter(SafeFileHandle file, AlignedBuffer buffer)
    {
        _file = file;
        _buffer = buffer;
    }

    /// <summary>Bytes taken so far.</summary>
    public long Length => _written + _filled;

    /// <summary>Takes bytes; every full buffer is written before this returns.</summary>
    public void Write(ReadOnlySpan<byte> data)
    {
        var buffer = Buffer;
        while (!data.IsEmpty)
        {
            var count = Math.Min(buffer.Length - _filled, data.Length);
            data[..count].CopyTo(buffer[_filled..]);
            _filled += count;
            data = data[count..];
            if (_filled == buffer.Length)
            {
                WriteAt(buffer, _written);
                _written += _filled;
                _filled = 0;
            }
        }
    }

    /// <summary>
    /// Writes what is left. Uncached writes come in whole pages, so a last partial page is written padded
    /// with zeros and the file then cut back to <see cref="Length"/>.
    /// </summary>
    public void Complete()
    {
        if (_filled == 0)
        {
            return;
        }

        var buffer = Buffer;
        var length = _written + _filled;
        var padded = (_filled + UncachedFile.Alignment - 1) / UncachedFile.Alignment * UncachedFile.Alignment;
        buffer[_filled..padded].Clear();
        WriteAt(buffer[..padded], _written);
        if (padded != _filled)
        {
            Truncate(length);
        }

        _written = length;
        _filled = 0;
    }

    /// <summary>Closes the file and gives the buffer back.</summary>
    public void Dispose()
    {
        _file.Dispose();
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            UncachedFile.Return(buffer);
        }
    }

    private Span<byte> Buffer => (_buffer ?? throw new ObjectDisposedException(nameof(UncachedWriter))).Span;

    // A filesystem may take O_DIRECT at open and refuse the transfer itself (a device whose blocks are
    // larger than a page): the file then drops O_DIRECT and the write is tried once more through the cache,
    // and later files are opened cached (UncachedFile.Refuse). A write that fails cached too fails. Only
    // EINVAL is such a refusal: a full disk (ENOSPC) or a failing device must not turn O_DIRECT off for good.
    private void WriteAt(ReadOnlySpan<byte> bytes, long offset)
    {
        try
        {
            RandomAccess.Write(_file, bytes, offset);
        }
        catch (IOException ex) when (ex.HResult == NativeMethods.InvalidArgument && DropUncached())
        {
            UncachedFile.Refuse();
            RandomAccess.Write(_file, bytes, offset);
        }
    }

    private bool DropUncached()
    {
        var added = false;
        try
        {
            _file.DangerousAddRef(ref added);
            var fd = (int)_file.DangerousGetHandle();
            var flags = NativeMethods.Fcntl(fd, NativeMethods.GetStatusFlags, 0);
            return flags >= 0 && (flags & NativeMethods.Uncached) != 0
                && NativeMethods.Fcntl(fd, NativeMethods.SetStatusFlags, flags & ~NativeMethods.Uncached) == 0;
        }
        finally
        {
            if (added)
            {
                _file.DangerousRelease();
            }
        }
    }

    private void Truncate(long length)
    {
        var added = false;
        try
        {
            _file.DangerousAddRef(ref added);
            if (NativeMethods.Ftruncate((int)_file.DangerousGetHandle(), length) != 0)
            {
                throw new IOException($"ftruncate failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        finally
        {
            if (added)
            {
                _file.DangerousRelease();
            }
        }
    }
}

/// <summary>Reads a file from its start past the page cache, a buffer at a time. Not for use from two threads at once.</summary>
public sealed class UncachedReader : IDisposable
{
    private readonly SafeFileHandle _file;
    private AlignedBuffer? _buffer;
    private long _offset;

    internal UncachedReader(SafeFileHandle file, AlignedBuffer buffer)
    {
        _file = file;
        _buffer = buffer;
    }

    /// <summary>
    /// The next bytes of the file, up to a buffer's worth; empty at its end. The span is valid until the
    /// next call.
    /// </summary>
    public ReadOnlySpan<byte> ReadNext()
    {
        var buffer = (_buffer ?? throw new ObjectDisposedException(nameof(UncachedReader))).Span;

        // Uncached reads must start on a page; only the file's end leaves the offset off one.
        if (_offset % UncachedFile.Alignment != 0)
        {
            return [];
        }

        var read = RandomAccess.Read(_file, buffer, _offset);
        _offset += read;
        return buffer[..read];
    }

    /// <summary>Closes the file and gives the buffer back.</summary>
    public void Dispose()
    {
        _file.Dispose();
        if (Interlocked.Exchange(ref _buffer, null) is { } buffer)
        {
            UncachedFile.Return(buffer);
        }
    }
}

/// <summary>Page-aligned native memory, allocated once and kept for the life of the process (there are at most <see cref="UncachedFile.MaxBuffers"/>).</summary>
internal sealed unsafe class AlignedBuffer
{
    private readonly byte* _start;

    public AlignedBuffer(int length)
    {
        _start = (byte*)NativeMemory.AlignedAlloc((nuint)length, UncachedFile.Alignment);
        Length = length;
    }

    public int Length { get; }

    public Span<byte> Span => new(_start, Length);
}
