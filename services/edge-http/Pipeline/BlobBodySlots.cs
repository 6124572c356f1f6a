using System.Collections.Concurrent;

namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// Bounds how many blob bodies the edge sends at once by the memory the GC may use. A blob GET's body is
/// written after the pipeline has let the operation go, and each one holds up to about
/// <see cref="BytesPerBody"/> of buffers (two 256 KiB reads in Kestrel's response pipe), so 250 GETs at
/// once want some 125 MiB: under a 64 MiB heap hard limit they ended the process. A quarter of the limit
/// goes to bodies: about 12,000 at once with 24 GiB, 32 under a 64 MiB limit. A GET that finds them all
/// taken waits up to <see cref="DefaultWait"/> for one, then gets 503 with Retry-After. Before it waits, the body
/// whose write has waited on its client longest, if for the cut-off or more, is cut to make room: slow readers
/// cannot hold every slot while others wait (Registry:Edge:SlowReaderCutAfter).
/// </summary>
internal sealed class BlobBodySlots
{
    /// <summary>What one body may hold in buffers: two large blocks.</summary>
    public const long BytesPerBody = 512 * 1024;

    /// <summary>How long a body waits for a slot before its request is refused, by default.</summary>
    public static readonly TimeSpan DefaultWait = TimeSpan.FromSeconds(2);

    /// <summary>How long a body's write must have waited on its client before it is cut for a waiting GET, by default.</summary>
    public static readonly TimeSpan DefaultCutAfter = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _slots;
    private readonly TimeSpan _wait;
    private readonly TimeSpan _cutAfter;
    private readonly ConcurrentDictionary<WriteStall, byte> _bodies = new();

    /// <param name="slots">Bodies sent at once.</param>
    /// <param name="wait">How long a body waits for a slot.</param>
    /// <param name="cutAfter">How long a write must have waited on its client to be cut for a waiting body; infinite: never.</param>
    public BlobBodySlots(int slots, TimeSpan wait, TimeSpan cutAfter)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(slots, 1);
        if (cutAfter < TimeSpan.Zero && cutAfter != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(cutAfter), cutAfter, "Registry:Edge:SlowReaderCutAfter must not be negative (-00:00:00.001: never cut).");
        }

        Capacity = slots;
        _wait = wait;
        _cutAfter = cutAfter;
        _slots = new SemaphoreSlim(slots, slots);
    }

    /// <summary>Bodies that may be sent at once.</summary>
    public int Capacity { get; }

    /// <summary>Bodies being sent now.</summary>
    public int InUse => Capacity - _slots.CurrentCount;

    /// <summary>The slots for a GC that may use <paramref name="limitBytes"/>: a quarter of it, at least 8.</summary>
    public static int SlotsFor(long limitBytes) => (int)Math.Clamp(limitBytes / 4 / BytesPerBody, 8, 1 << 20);

    /// <summary>
    /// Takes a slot for the body whose writes <paramref name="body"/> times, cutting the slowest reader and then
    /// waiting up to the wait given when none is free; false when none came free (or the client left).
    /// </summary>
    public async ValueTask<bool> EnterAsync(WriteStall body, CancellationToken cancellationToken)
    {
        if (!await _slots.WaitAsync(0, CancellationToken.None))
        {
            CutSlowestReader();
            try
            {
                if (!await _slots.WaitAsync(_wait, cancellationToken))
                {
                    return false;
                }
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        _bodies.TryAdd(body, 0);
        return true;
    }

    /// <summary>Gives the body's slot back.</summary>
    public void Exit(WriteStall body)
    {
        _bodies.TryRemove(body, out _);
        _slots.Release();
    }

    // The body whose client has read least for longest (under 256 KiB per cut-off, for the cut-off at least) is
    // cut; its slot comes free once its handler has unwound. A few tries: another waiting GET may have cut the
    // same one first, or a second look finds it reading fast enough after all.
    private void CutSlowestReader()
    {
        if (_cutAfter == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        for (var attempt = 0; attempt < 3; attempt++)
        {
            var cutOff = Environment.TickCount64 - (long)_cutAfter.TotalMilliseconds;
            WriteStall? slowest = null;
            var slowestSince = long.MaxValue;
            foreach (var (body, _) in _bodies)
            {
                var since = body.WaitingSince;
                if (since <= cutOff && since < slowestSince && !body.CutForRoom)
                {
                    (slowest, slowestSince) = (body, since);
                }
            }

            if (slowest is null || slowest.TryCut(slowestSince, _cutAfter))
            {
                return;
            }
        }
    }
}
