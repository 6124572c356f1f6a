using System.Diagnostics;
using System.Text;
using Registry.Hosting.Observability.Leaks;

namespace Registry.EdgeHttp.Observability;

/// <summary>
/// The requests the edge is working on, each in a slot with its start time and operation, so the leak
/// detector can name the oldest. Slots are preallocated; entering and leaving take a short lock and
/// allocate nothing. Past the capacity requests are counted but not tracked.
/// </summary>
internal sealed class InFlightRequests : ILeakSignal
{
    private const int Capacity = 8192;

    private readonly long[] _started = new long[Capacity];
    private readonly EdgeOperation[] _operations = new EdgeOperation[Capacity];
    private readonly int[] _free = new int[Capacity];
    private readonly Lock _lock = new();
    private int _freeCount;
    private long _count;

    public InFlightRequests()
    {
        for (var i = 0; i < Capacity; i++)
        {
            _free[i] = Capacity - 1 - i;
        }

        _freeCount = Capacity;
    }

    public string Name => "http_in_flight";

    /// <summary>Growth below this many requests is never reported.</summary>
    public double MinimumIncrease { get; set; } = 200;

    /// <summary>Requests in flight now.</summary>
    public long Count => Interlocked.Read(ref _count);

    /// <summary>Starts tracking a request; returns its slot (negative when untracked).</summary>
    public int Enter()
    {
        Interlocked.Increment(ref _count);
        int slot;
        lock (_lock)
        {
            if (_freeCount == 0)
            {
                return -1;
            }

            slot = _free[--_freeCount];
        }

        _operations[slot] = EdgeOperation.Unknown;
        Volatile.Write(ref _started[slot], Stopwatch.GetTimestamp());
        return slot;
    }

    /// <summary>Names the operation of a tracked request once it is known.</summary>
    public void SetOperation(int slot, EdgeOperation operation)
    {
        if (slot >= 0)
        {
            _operations[slot] = operation;
        }
    }

    /// <summary>Stops tracking a request.</summary>
    public void Exit(int slot)
    {
        Interlocked.Decrement(ref _count);
        if (slot < 0)
        {
            return;
        }

        Volatile.Write(ref _started[slot], 0);
        lock (_lock)
        {
            _free[_freeCount++] = slot;
        }
    }

    public double Sample() => Count;

    /// <summary>
    /// Tracked requests started before <paramref name="startedBefore"/> (a <see cref="Stopwatch"/>
    /// timestamp) whose operation is not a bulk transfer: a blob download or an upload body may
    /// rightly take minutes, a control request may not.
    /// </summary>
    public int CountControlStartedBefore(long startedBefore)
    {
        var count = 0;
        for (var i = 0; i < Capacity; i++)
        {
            var started = Volatile.Read(ref _started[i]);
            if (started != 0 && started < startedBefore && !IsTransfer(_operations[i]))
            {
                count++;
            }
        }

        return count;
    }

    private static bool IsTransfer(EdgeOperation operation) =>
        operation is EdgeOperation.BlobGet or EdgeOperation.UploadPatch or EdgeOperation.UploadPut or EdgeOperation.UploadStart;

    /// <summary>The five oldest requests in flight, with their operation and age.</summary>
    public string Evidence()
    {
        const int Shown = 5;
        Span<long> oldest = stackalloc long[Shown];
        Span<int> slots = stackalloc int[Shown];
        slots.Fill(-1);
        for (var i = 0; i < Capacity; i++)
        {
            var started = Volatile.Read(ref _started[i]);
            if (started == 0)
            {
                continue;
            }

            for (var k = 0; k < Shown; k++)
            {
                if (slots[k] < 0 || started < oldest[k])
                {
                    for (var m = Shown - 1; m > k; m--)
                    {
                        oldest[m] = oldest[m - 1];
                        slots[m] = slots[m - 1];
                    }

                    oldest[k] = started;
                    slots[k] = i;
                    break;
                }
            }
        }

        var text = new StringBuilder($"{Count} requests in flight; oldest:");
        for (var k = 0; k < Shown && slots[k] >= 0; k++)
        {
            var age = Stopwatch.GetElapsedTime(oldest[k]).TotalSeconds;
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $" {EdgeMetrics.OperationNames[(int)_operations[slots[k]]]} {age:0.#} s;");
        }

        return text.ToString();
    }
}
