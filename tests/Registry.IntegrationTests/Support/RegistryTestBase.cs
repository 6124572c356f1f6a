namespace Registry.IntegrationTests.Support;

/// <summary>Base of the test classes that share one registry per class.</summary>
public abstract class RegistryTestBase : IClassFixture<RegistryFixture>
{
    protected RegistryTestBase(RegistryFixture fixture)
    {
        Fixture = fixture;
    }

    protected RegistryFixture Fixture { get; }

    protected OciClient Client => Fixture.Client;
}
