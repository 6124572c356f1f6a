namespace Registry.IntegrationTests.Support;

/// <summary>Bounds for every wait in the integration tests.</summary>
public static class Timeouts
{
    /// <summary>Starting or stopping a registry.</summary>
    public static readonly TimeSpan Start = TimeSpan.FromSeconds(60);

    /// <summary>One HTTP exchange, including a 64 MiB upload on a slow machine.</summary>
    public static readonly TimeSpan Request = TimeSpan.FromMinutes(2);
}
