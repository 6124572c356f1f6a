using Grpc.Core;
using Microsoft.Extensions.Options;
using Registry.Hosting;
using Registry.Hosting.Grpc;
using Registry.Protos;

namespace Registry.EdgeHttp.Clients;

/// <summary>The edge's gRPC clients of the three services, over channels created once.</summary>
internal sealed class ServiceClients : IDisposable
{
    private readonly Grpc.Net.Client.GrpcChannel[] _channels;
    private readonly TimeSpan _callTimeout;

    public ServiceClients(IOptions<ServiceAddresses> addresses, IOptions<EdgeOptions> options, ILoggerFactory loggerFactory)
    {
        var value = addresses.Value;
        var auth = GrpcChannels.Create(Required(value.Auth, "Auth"), loggerFactory);
        var manifest = GrpcChannels.Create(Required(value.Manifest, "Manifest"), loggerFactory);
        var blob = GrpcChannels.Create(Required(value.Blob, "Blob"), loggerFactory);
        _channels = [auth, manifest, blob];
        Auth = new Protos.Auth.AuthClient(GrpcChannels.Instrumented(auth));
        Manifests = new Manifests.ManifestsClient(GrpcChannels.Instrumented(manifest));
        Blobs = new Blobs.BlobsClient(GrpcChannels.Instrumented(blob));
        _callTimeout = options.Value.ServiceCallTimeout;
    }

    public Protos.Auth.AuthClient Auth { get; }

    public Manifests.ManifestsClient Manifests { get; }

    public Blobs.BlobsClient Blobs { get; }

    /// <summary>The channels to the auth, manifest and blob services, in that order (for health checks).</summary>
    public IReadOnlyList<Grpc.Net.Client.GrpcChannel> Channels => _channels;

    /// <summary>Call options for a unary call: the request's token and the configured deadline.</summary>
    public CallOptions Unary(CancellationToken cancellationToken) =>
        new(deadline: DateTime.UtcNow + _callTimeout, cancellationToken: cancellationToken);

    /// <summary>Call options for a streaming call: the request's token, no deadline (transfers take as long as they take).</summary>
    public static CallOptions Streaming(CancellationToken cancellationToken) => new(cancellationToken: cancellationToken);

    public void Dispose()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }

    private static string Required(string address, string name) =>
        string.IsNullOrEmpty(address)
            ? throw new InvalidOperationException($"Registry:Services:{name} must name the {name.ToLowerInvariant()} service's address.")
            : address;
}
