using System.Diagnostics;
using Microsoft.Extensions.Options;
using Registry.EdgeHttp.Caching;
using Registry.EdgeHttp.Clients;
using Registry.EdgeHttp.Http;

namespace Registry.EdgeHttp.Pipeline;

/// <summary>What every operation needs from the edge: the service clients, Location building, options.</summary>
internal sealed class EdgeContext
{
    public EdgeContext(
        ServiceClients clients,
        Locations locations,
        ManifestReader manifests,
        AuthDecisionCache authDecisions,
        IOptions<EdgeOptions> options)
    {
        Clients = clients;
        Manifests = manifests;
        AuthDecisions = authDecisions;
        Locations = locations;
        Options = options.Value;
        BlobBodies = new BlobBodySlots(
            Options.MaxBlobBodies > 0 ? Options.MaxBlobBodies : BlobBodySlots.SlotsFor(Registry.Hosting.Memory.HeapPressure.LimitBytes),
            BlobBodySlots.DefaultWait,
            Options.SlowReaderCutAfter);
    }

    public ServiceClients Clients { get; }

    public Locations Locations { get; }

    /// <summary>Manifest reads, cached by digest and coalesced.</summary>
    public ManifestReader Manifests { get; }

    /// <summary>Recent auth decisions.</summary>
    public AuthDecisionCache AuthDecisions { get; }

    /// <summary>Staging folders of the upload sessions this edge started.</summary>
    public StagingFolderCache StagingFolders { get; } = new();

    public EdgeOptions Options { get; }

    /// <summary>Blob bodies sent at once, bounded by the memory the GC may use.</summary>
    public BlobBodySlots BlobBodies { get; }

    // When a pipeline step last finished or an upload body last moved (Stopwatch ticks): the stall check's
    // measure of progress, so that long uploads that keep receiving bytes never look like a wedge.
    private long _lastProgress = Stopwatch.GetTimestamp();

    /// <summary>Notes that work moved forward (a step finished, body bytes arrived).</summary>
    public void MarkProgress() => Volatile.Write(ref _lastProgress, Stopwatch.GetTimestamp());

    /// <summary>Time since anything moved forward.</summary>
    public TimeSpan SinceProgress => Stopwatch.GetElapsedTime(Volatile.Read(ref _lastProgress));
}
