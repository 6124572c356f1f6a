using Microsoft.Extensions.Options;
using Registry.EdgeHttp.Clients;
using Registry.EdgeHttp.Http;

namespace Registry.EdgeHttp.Pipeline;

/// <summary>What every operation needs from the edge: the service clients, Location building, options.</summary>
internal sealed class EdgeContext
{
    public EdgeContext(ServiceClients clients, Locations locations, IOptions<EdgeOptions> options)
    {
        Clients = clients;
        Locations = locations;
        Options = options.Value;
    }

    public ServiceClients Clients { get; }

    public Locations Locations { get; }

    public EdgeOptions Options { get; }
}
