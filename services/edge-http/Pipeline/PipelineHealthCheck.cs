using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// Liveness and readiness of the request pipeline: unhealthy while requests wait in its queues and no
/// step has finished for <see cref="PipelineOptions.StallSeconds"/>, so an orchestrator restarts a
/// wedged edge instead of sending it more traffic; unhealthy at once when a stage's block has failed.
/// </summary>
internal sealed class PipelineHealthCheck(RequestPipeline pipeline, IOptions<EdgeOptions> options) : IHealthCheck
{
    private readonly TimeSpan _limit = TimeSpan.FromSeconds(options.Value.Pipeline.StallSeconds);

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(
            pipeline.IsFaulted ? HealthCheckResult.Unhealthy("a pipeline stage has failed and takes no requests")
            : pipeline.IsStalled(_limit) ? HealthCheckResult.Unhealthy($"requests are queued and no pipeline step has finished for {_limit.TotalSeconds:F0} s")
            : HealthCheckResult.Healthy());
}
