namespace Registry.Hosting.Observability;

/// <summary>Tags that sort health checks into the liveness and readiness endpoints.</summary>
public static class HealthTags
{
    /// <summary>The process runs: /healthz/live.</summary>
    public const string Live = "live";

    /// <summary>The process can serve: /healthz/ready (storage, databases, the services it calls).</summary>
    public const string Ready = "ready";

    /// <summary>
    /// A check of another service. Left out of the gRPC health service, so that two services checking
    /// each other (or one host checking itself) never recurse.
    /// </summary>
    public const string Downstream = "downstream";
}
