namespace Registry.Hosting;

/// <summary>
/// Where the edge and the services find each other, bound from "Registry:Services". An address is
/// "http://host:port" or "unix:/path/to.sock". Empty in the all-in-one host, which fills them in with
/// its own Unix socket.
/// </summary>
public sealed class ServiceAddresses
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Registry:Services";

    /// <summary>The auth service address.</summary>
    public string Auth { get; set; } = string.Empty;

    /// <summary>The manifest service address.</summary>
    public string Manifest { get; set; } = string.Empty;

    /// <summary>The blob service address.</summary>
    public string Blob { get; set; } = string.Empty;
}
