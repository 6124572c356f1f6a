namespace Registry.Hosting.Observability.Leaks;

/// <summary>
/// Something that must stay bounded in a healthy process (requests in flight, upload sessions, threads,
/// heap) and that the leak detector samples. Register implementations as singletons.
/// </summary>
public interface ILeakSignal
{
    /// <summary>A short name, used as the metric label: "http_in_flight", "upload_sessions"…</summary>
    string Name { get; }

    /// <summary>Growth past the baseline below which nothing is reported, in the signal's unit.</summary>
    double MinimumIncrease { get; }

    /// <summary>The current value.</summary>
    double Sample();

    /// <summary>What an operator needs to find the leak (the oldest items, their age and operation); empty when nothing helps.</summary>
    string Evidence();
}
