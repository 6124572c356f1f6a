using System.Collections;
using Registry.Hosting;

namespace Registry.UnitTests.Hosting;

public sealed class RegistryEnvironmentTests
{
    [Fact]
    public void RegistryPrefixedVariables_LandInTheRegistrySection()
    {
        var variables = new Hashtable
        {
            ["REGISTRY_Edge__ExternalUrl"] = "https://registry.example",
            ["REGISTRY_DataDir"] = "/srv/registry",
            ["registry_Blob__UploadMaxAge"] = "01:00:00",
            ["REGISTRY__DataDir"] = "ignored: ASP.NET's own provider maps this form",
            ["REGISTRY_"] = "ignored: no key",
            ["PATH"] = "/usr/bin",
        };

        var mapped = RegistryHost.RegistryEnvironment(variables).ToDictionary(pair => pair.Key, pair => pair.Value);

        Assert.Equal(3, mapped.Count);
        Assert.Equal("https://registry.example", mapped["Registry:Edge:ExternalUrl"]);
        Assert.Equal("/srv/registry", mapped["Registry:DataDir"]);
        Assert.Equal("01:00:00", mapped["Registry:Blob:UploadMaxAge"]);
    }
}
