namespace Registry.Hosting;

/// <summary>Lowers a shared value to a new one when it is smaller, without a lock.</summary>
public static class AtomicMin
{
    /// <summary>Sets <paramref name="location"/> to <paramref name="value"/> if that is smaller.</summary>
    public static void Lower(ref int location, int value)
    {
        var seen = Volatile.Read(ref location);
        while (value < seen)
        {
            var previous = Interlocked.CompareExchange(ref location, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }

    /// <summary>Sets <paramref name="location"/> to <paramref name="value"/> if that is smaller.</summary>
    // Volatile.Read has no generic form for value types, so the two widths are written out.
    public static void Lower(ref long location, long value)
    {
        var seen = Volatile.Read(ref location);
        while (value < seen)
        {
            var previous = Interlocked.CompareExchange(ref location, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}
