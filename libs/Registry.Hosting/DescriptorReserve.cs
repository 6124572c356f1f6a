namespace Registry.Hosting;

/// <summary>
/// A few file descriptors held back for the runtime itself. Out of descriptors, the JIT runtime cannot start a
/// thread (each new thread opens a pipe as it starts) and ends the process with "Out of memory.". When fewer than
/// <see cref="Low"/> are free the reserve is given back, and no connection is accepted until the reserve can be
/// held again with as many free beside it: accepts stop short of the limit instead of at it.
/// </summary>
/// <param name="open">Opens one handle of the reserve.</param>
/// <param name="free">How many more descriptors the process may open now; null where that cannot be told.</param>
/// <param name="size">Descriptors held back.</param>
public sealed class DescriptorReserve(Func<IDisposable> open, Func<long?> free, int size = DescriptorReserve.DefaultSize)
{
    /// <summary>Descriptors held back by default.</summary>
    public const int DefaultSize = 16;

    /// <summary>With the reserve held, fewer free descriptors than this give it back.</summary>
    public const int Low = 4;

    private readonly Lock _gate = new();
    private IDisposable[]? _held;

    /// <summary>The process's reserve, of /dev/null handles, against its soft limit and open count (Linux).</summary>
    public static DescriptorReserve Process { get; } = new(
        static () => File.OpenHandle("/dev/null"),
        static () => DescriptorLimit.Soft is { } soft && DescriptorLimit.Open is > 0 and var open ? soft - open : null);

    /// <summary>Whether the reserve is held now.</summary>
    public bool Held
    {
        get
        {
            lock (_gate)
            {
                return _held is not null;
            }
        }
    }

    /// <summary>
    /// Whether new connections may be accepted: the reserve is held (taken on the first look) and at least
    /// <see cref="Low"/> descriptors are free beside it. Short of that the reserve is given back, and the answer
    /// is false until twice its size are free. Free descriptors are counted, never found by opening them all, so
    /// a look leaves the runtime what it had.
    /// </summary>
    public bool AcceptsMayGoOn()
    {
        lock (_gate)
        {
            if (free() is not { } spare)
            {
                return true;
            }

            if (_held is not null)
            {
                if (spare >= Low)
                {
                    return true;
                }

                Array.ForEach(_held, static handle => handle.Dispose());
                _held = null;
                return false;
            }

            if (spare < 2L * size)
            {
                return false;
            }

            _held = TryOpen();
            return true;
        }
    }

    // The reserve's handles; null when they cannot be opened (none kept open then).
    private IDisposable[]? TryOpen()
    {
        var opened = new IDisposable[size];
        var done = 0;
        try
        {
            for (; done < size; done++)
            {
                opened[done] = open();
            }

            return opened;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or OutOfMemoryException)
        {
            for (var i = 0; i < done; i++)
            {
                opened[i].Dispose();
            }

            return null;
        }
    }
}
