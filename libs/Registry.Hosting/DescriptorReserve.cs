namespace Registry.Hosting;

/// <summary>
/// A few file descriptors held back for the runtime itself. Out of descriptors, the JIT runtime cannot start a
/// thread (each new thread opens a pipe as it starts) and ends the process with "Out of memory.". When the
/// process runs out, the reserve is given back, and no connection is accepted until the reserve can be held
/// again with as many spare beside it: accepts stop short of the limit instead of at it.
/// </summary>
public sealed class DescriptorReserve(Func<IDisposable> open, int size = DescriptorReserve.DefaultSize)
{
    /// <summary>Descriptors held back by default.</summary>
    public const int DefaultSize = 16;

    private readonly Lock _gate = new();
    private IDisposable[]? _held;
    private bool _givenBack;

    /// <summary>The process's reserve, of /dev/null handles (Linux).</summary>
    public static DescriptorReserve Process { get; } = new(static () => File.OpenHandle("/dev/null"));

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
    /// Whether new connections may be accepted: the reserve is held (taken on the first look) and one more
    /// descriptor can be opened. Out of descriptors the reserve is given back, and the answer is false until
    /// the reserve and as many more can be opened again.
    /// </summary>
    public bool AcceptsMayGoOn()
    {
        lock (_gate)
        {
            if (_held is null)
            {
                var opened = TryOpen(_givenBack ? 2 * size : size);
                if (opened is null)
                {
                    return false;
                }

                if (opened.Length == 0)
                {
                    // Nothing to open it with: no reserve, and nothing known against accepting.
                    return true;
                }

                for (var i = size; i < opened.Length; i++)
                {
                    opened[i].Dispose();
                }

                _held = opened[..size];
                return true;
            }

            var probe = TryOpen(1);
            if (probe is not null)
            {
                Array.ForEach(probe, static handle => handle.Dispose());
                return true;
            }

            Array.ForEach(_held, static handle => handle.Dispose());
            _held = null;
            _givenBack = true;
            return false;
        }
    }

    // count handles opened; null (none left open) when the process ran out of descriptors first, empty when
    // opening failed for another reason (which says nothing about descriptors).
    private IDisposable[]? TryOpen(int count)
    {
        var opened = new IDisposable[count];
        var done = 0;
        try
        {
            for (; done < count; done++)
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

            return OutOfDescriptors.Is(ex) ? null : [];
        }
    }
}
