using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Registry.Hosting.Observability;

/// <summary>Ready when a service answers SERVING on the standard gRPC health service within two seconds.</summary>
public sealed class GrpcServiceHealthCheck : IHealthCheck
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2);

    private readonly Health.HealthClient _client;

    public GrpcServiceHealthCheck(ChannelBase channel)
    {
        ArgumentNullException.ThrowIfNull(channel);
        _client = new Health.HealthClient(channel);
    }

    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var reply = await _client.CheckAsync(
                new HealthCheckRequest(),
                deadline: DateTime.UtcNow + Deadline,
                cancellationToken: cancellationToken);
            return reply.Status == HealthCheckResponse.Types.ServingStatus.Serving
                ? HealthCheckResult.Healthy()
                : HealthCheckResult.Unhealthy($"the service answers {reply.Status}");
        }
        catch (RpcException ex)
        {
            return HealthCheckResult.Unhealthy($"the service does not answer ({ex.StatusCode})", ex);
        }
    }
}
