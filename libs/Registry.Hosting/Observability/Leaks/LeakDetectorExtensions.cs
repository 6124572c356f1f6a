using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Registry.Hosting.Observability.Leaks;

/// <summary>Registers the leak detector and the signals every process has.</summary>
public static class LeakDetectorExtensions
{
    /// <summary>
    /// Adds the detector (once), with the thread pool and managed heap signals when
    /// <paramref name="runtimeSignals"/> (one host per process samples the runtime).
    /// </summary>
    public static IServiceCollection AddLeakDetector(this IServiceCollection services, IConfiguration configuration, bool runtimeSignals)
    {
        services.AddOptions<LeakDetectorOptions>().Bind(configuration.GetSection(LeakDetectorOptions.SectionName));
        services.TryAddSingleton(TimeProvider.System);
        if (runtimeSignals)
        {
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ILeakSignal, ThreadPoolLeakSignal>());
            services.TryAddEnumerable(ServiceDescriptor.Singleton<ILeakSignal, ManagedHeapLeakSignal>());
        }

        services.TryAddSingleton<LeakDetector>();
        services.AddHostedService(provider => provider.GetRequiredService<LeakDetector>());
        return services;
    }
}
