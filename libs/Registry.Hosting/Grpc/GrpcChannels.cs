using System.Net;
using System.Net.Sockets;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;
using Microsoft.Extensions.Logging;
using Registry.Hosting.Observability;

namespace Registry.Hosting.Grpc;

/// <summary>Creates gRPC channels to the registry's services over TCP or a Unix domain socket.</summary>
public static class GrpcChannels
{
    private const string UnixPrefix = "unix:";

    private static readonly GrpcClientMetricsInterceptor ClientMetrics = new();

    /// <summary>The channel's calls, counted and timed in the registry_grpc_client_* metrics.</summary>
    public static CallInvoker Instrumented(GrpcChannel channel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        return channel.Intercept(ClientMetrics);
    }

    /// <summary>
    /// Creates a channel for an address "http://host:port" or "unix:/path.sock". With a logger factory
    /// the client logs each call at Debug (under Grpc.Net.Client) and its failures.
    /// </summary>
    public static GrpcChannel Create(string address, ILoggerFactory? loggerFactory = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(address);
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = true,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            KeepAlivePingDelay = TimeSpan.FromSeconds(60),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };

        var target = address;
        if (address.StartsWith(UnixPrefix, StringComparison.Ordinal))
        {
            var socketPath = address[UnixPrefix.Length..].TrimStart('/');
            socketPath = "/" + socketPath;
            handler.ConnectCallback = async (_, cancellationToken) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
            target = "http://localhost";
        }

        return GrpcChannel.ForAddress(target, new GrpcChannelOptions
        {
            HttpHandler = handler,
            HttpVersion = HttpVersion.Version20,
            DisposeHttpClient = true,
            // Blob chunks are at most 1 MiB; manifests at most 4 MiB plus framing.
            MaxReceiveMessageSize = 8 * 1024 * 1024,
            MaxSendMessageSize = 8 * 1024 * 1024,
            ServiceConfig = new ServiceConfig(),
            LoggerFactory = loggerFactory,
        });
    }
}
