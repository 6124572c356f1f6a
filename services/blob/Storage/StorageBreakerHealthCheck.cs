using Microsoft.Extensions.Diagnostics.HealthChecks;
using Registry.Storage;

namespace Registry.Blob.Storage;

/// <summary>Not ready while the storage circuit breaker is open: every storage call would fail at once.</summary>
internal sealed class StorageBreakerHealthCheck(IStorageDriver storage) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(storage is ResilientStorageDriver { State: ResilientStorageDriver.OpenState }
            ? HealthCheckResult.Unhealthy("the storage circuit breaker is open after repeated storage failures")
            : HealthCheckResult.Healthy());
}
