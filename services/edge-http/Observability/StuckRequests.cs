using System.Diagnostics;
using Microsoft.Extensions.Options;
using Registry.Hosting.Observability.Leaks;

namespace Registry.EdgeHttp.Observability;

/// <summary>
/// The control requests (everything but blob downloads and upload bodies) in flight for longer than
/// <see cref="EdgeOptions.StuckRequestAfter"/>. A healthy edge has none, however quiet it is, so even
/// one stuck request shows here; the in-flight count alone needs a crowd to stand out.
/// </summary>
internal sealed class StuckRequests(InFlightRequests inFlight, IOptions<EdgeOptions> options) : ILeakSignal
{
    private readonly long _after = (long)(options.Value.StuckRequestAfter.TotalSeconds * Stopwatch.Frequency);

    public string Name => "http_stuck_requests";

    /// <summary>A single stuck request is worth a report.</summary>
    public double MinimumIncrease => 0.5;

    public double Sample() => inFlight.CountControlStartedBefore(Stopwatch.GetTimestamp() - _after);

    public string Evidence() => inFlight.Evidence();
}
