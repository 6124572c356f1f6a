using Registry.Oci.Names;

namespace Registry.UnitTests.Names;

public sealed class RepositoryNameTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("library/ubuntu")]
    [InlineData("a/b/c/d/e")]
    [InlineData("a__b")]
    [InlineData("a_b")]
    [InlineData("a.b")]
    [InlineData("a-b")]
    [InlineData("a---b")]
    [InlineData("0")]
    [InlineData("a1.b2_c3__d4-e5/f6")]
    [InlineData("library/manifests")]
    [InlineData("x/blobs")]
    [InlineData("x/tags")]
    public void IsValid_SpecGrammarName_ReturnsTrue(string name)
    {
        Assert.True(RepositoryName.IsValid(name));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a___b")]
    [InlineData("-a")]
    [InlineData("a-")]
    [InlineData("a//b")]
    [InlineData("a/")]
    [InlineData("/a")]
    [InlineData("_a")]
    [InlineData("a_")]
    [InlineData(".a")]
    [InlineData("a.")]
    [InlineData("a..b")]
    [InlineData("a._b")]
    [InlineData("a-.b")]
    [InlineData("a-_b")]
    [InlineData("Foo/bar")]
    [InlineData("foo/Bar")]
    [InlineData("A")]
    [InlineData("a b")]
    [InlineData("a%2Fb")]
    [InlineData("a:b")]
    [InlineData("a@b")]
    [InlineData("é")]
    public void IsValid_OutsideGrammar_ReturnsFalse(string name)
    {
        Assert.False(RepositoryName.IsValid(name));
    }

    [Fact]
    public void IsValid_AtMaxLength_ReturnsTrue()
    {
        Assert.True(RepositoryName.IsValid(new string('a', RepositoryName.MaxLength)));
    }

    [Fact]
    public void IsValid_OverMaxLength_ReturnsFalse()
    {
        Assert.False(RepositoryName.IsValid(new string('a', RepositoryName.MaxLength + 1)));
    }

    [Theory]
    [InlineData("latest")]
    [InlineData("v1.0")]
    [InlineData("V1.0-rc.1_build")]
    [InlineData("_")]
    [InlineData("_private")]
    [InlineData("0")]
    [InlineData("a.-_b")]
    [InlineData("sha256-e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public void IsValidTag_SpecGrammarTag_ReturnsTrue(string tag)
    {
        Assert.True(RepositoryName.IsValidTag(tag));
    }

    [Theory]
    [InlineData("")]
    [InlineData(".latest")]
    [InlineData("-latest")]
    [InlineData("a:b")]
    [InlineData("a/b")]
    [InlineData("a b")]
    [InlineData("a+b")]
    [InlineData("é")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public void IsValidTag_OutsideGrammar_ReturnsFalse(string tag)
    {
        Assert.False(RepositoryName.IsValidTag(tag));
    }

    [Fact]
    public void IsValidTag_128Characters_ReturnsTrue()
    {
        Assert.Equal(128, RepositoryName.MaxTagLength);
        Assert.True(RepositoryName.IsValidTag(new string('t', 128)));
    }

    [Fact]
    public void IsValidTag_129Characters_ReturnsFalse()
    {
        Assert.False(RepositoryName.IsValidTag(new string('t', 129)));
    }
}
