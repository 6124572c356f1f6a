using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Registry.Hosting.Observability;

/// <summary>
/// Ready when a probe file can be written to and deleted from a folder (storage or metadata). A full disk
/// is degraded, not unhealthy: writes get 507 and reads go on, and taking the process out of rotation
/// would stop its pulls too (every replica sharing the disk at once).
/// </summary>
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
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (StorageFull.Is(ex))
        {
            return HealthCheckResult.Degraded($"{_directory} is full: writes are refused with 507, reads go on");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return HealthCheckResult.Unhealthy($"{_directory} is not writable", ex);
        }
        finally
        {
            // Also when the write failed after creating the file (a full disk).
            try
            {
                File.Delete(probe);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // An unwritable folder: the result above says so.
            }
        }
    }
}
