using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Registry.EdgeHttp;
using Registry.EdgeHttp.Http;

namespace Registry.UnitTests.EdgeHttp.Http;

public sealed class LocationsTests
{
    private const string Path = "/v2/team/app/blobs/uploads/abc";

    [Theory]
    [InlineData("registry.example.com", "https", "https://registry.example.com" + Path)]
    [InlineData("registry.example.com:8443, proxy.internal", "https", "https://registry.example.com:8443" + Path)]
    [InlineData("[::1]:5000", "http", "http://[::1]:5000" + Path)]
    [InlineData("10.0.0.7", "gopher", "http://10.0.0.7" + Path)]
    public void For_TrustedPlainForwardedHost_BuildsAnAbsoluteUrl(string forwardedHost, string proto, string expected)
    {
        var locations = new Locations(Options.Create(new EdgeOptions { TrustForwardedHeaders = true }));

        Assert.Equal(expected, locations.For(Request(forwardedHost, proto), Path));
    }

    [Theory]
    [InlineData("\u00e9vil.example")]
    [InlineData("evil.example/phish?")]
    [InlineData("evil.example\r\nSet-Cookie: a=b")]
    [InlineData("user@evil.example")]
    [InlineData(" ")]
    [InlineData("[")]
    [InlineData("::::")]
    [InlineData("evil.example:80:80")]
    [InlineData("evil.example:99999999999")]
    [InlineData("evil.example:0")]
    [InlineData("evil.example:")]
    [InlineData("[::1")]
    [InlineData("[::1]x")]
    [InlineData("[evil.example]:80")]
    [InlineData("-.-")]
    public void For_ForwardedHostThatIsNoPlainHost_FallsBackToThePath(string forwardedHost)
    {
        var locations = new Locations(Options.Create(new EdgeOptions { TrustForwardedHeaders = true }));

        Assert.Equal(Path, locations.For(Request(forwardedHost, "https"), Path));
    }

    [Fact]
    public void For_UntrustedForwardedHost_IsIgnored()
    {
        var locations = new Locations(Options.Create(new EdgeOptions()));

        Assert.Equal(Path, locations.For(Request("registry.example.com", "https"), Path));
    }

    private static DefaultHttpContext Request(string forwardedHost, string proto)
    {
        var context = new DefaultHttpContext();
        context.Request.Scheme = "http";
        context.Request.Headers["X-Forwarded-Host"] = forwardedHost;
        context.Request.Headers["X-Forwarded-Proto"] = proto;
        return context;
    }
}
