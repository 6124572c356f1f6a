using Registry.Hosting.Memory;

namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// Bounds how many blob bodies the edge sends at once by the memory the GC may use. A blob GET's body is
/// written after the pipeline has let the operation go, and each one holds up to about
/// <see cref="BytesPerBody"/> of buffers (two 256 KiB reads in Kestrel's response pipe), so 250 GETs at
/// once want some 125 MiB: under a 64 MiB heap hard limit they ended the process. A quarter of the limit
/// goes to bodies: about 12,000 at once with 24 GiB, 32 under a 64 MiB limit. A GET that finds them all
/// taken waits up to <see cref="DefaultWait"/> for one, then gets 503 with Retry-After.
/// </summary>
internal sealed class BlobBodySlots
{
    /// <summary>What one body may hold in buffers: two large blocks.</summary>
    public const long BytesPerBody = 512 * 1024;

    /// <summary>How long a body waits for a slot before its request is refused, by default.</summary>
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _slots;
    private readonly TimeSpan _wait;

    public BlobBodySlots()
        : this(SlotsFor(HeapPressure.LimitBytes), DefaultWait)
    {
    }

    public BlobBodySlots(int slots, TimeSpan wait)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        Capacity = slots;
        _wait = wait;
        _slots = new SemaphoreSlim(slots, slots);
    }

    /// <summary>Bodies that may be sent at once.</summary>
    public int Capacity { get; }

    /// <summary>Bodies being sent now.</summary>
    public int InUse => Capacity - _slots.CurrentCount;

    /// <summary>The slots for a GC that may use <paramref name="limitBytes"/>: a quarter of it, at least 8.</summary>
    public static int SlotsFor(long limitBytes) => (int)Math.Clamp(limitBytes / 4 / BytesPerBody, 8, 1 << 20);

    /// <summary>Takes a slot, waiting up to the wait given; false when none came free (or the client left).</summary>
    public async ValueTask<bool> EnterAsync(CancellationToken cancellationToken)
    {
        // A free slot completes synchronously (the semaphore hands back a finished task).
        try
        {
            return await _slots.WaitAsync(_wait, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Gives a slot back.</summary>
    public void Exit() => _slots.Release();
}
