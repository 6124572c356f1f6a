using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Registry.Hosting.Observability;

/// <summary>Ready when a probe file can be written to and deleted from a folder (storage or metadata).</summary>
public sealed class DirectoryHealthCheck : IHealthCheck
{
    private readonly string _directory;

    public DirectoryHealthCheck(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        _directory = directory;
    }

    /// <inheritdoc />
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var probe = Path.Combine(_directory, $".health-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(_directory);
            await File.WriteAllBytesAsync(probe, [1], cancellationToken);
            File.Delete(probe);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return HealthCheckResult.Unhealthy($"{_directory} is not writable", ex);
        }
    }
}
