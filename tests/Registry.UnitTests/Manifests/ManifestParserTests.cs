using System.Text;
using Registry.Oci.Digests;
using Registry.Oci.Errors;
using Registry.Oci.Manifests;

namespace Registry.UnitTests.Manifests;

public sealed class ManifestParserTests
{
    private const string ConfigDigest = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
    private const string LayerDigest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    private const string ChildDigest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    private static readonly string Layers =
        $$"""[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{LayerDigest}}","size":0}]""";

    private static readonly string Config =
        $$"""{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{ConfigDigest}}","size":2}""";

    [Fact]
    public void Parse_ContentTypeOnly_UsesContentType()
    {
        var parsed = Parse(ImageWithout(mediaType: null), MediaTypes.OciManifest);
        Assert.Equal(MediaTypes.OciManifest, parsed.MediaType);
        Assert.False(parsed.IsIndex);
    }

    [Fact]
    public void Parse_MediaTypeFieldOnly_UsesField()
    {
        var parsed = Parse(ImageWithout(MediaTypes.OciManifest), null);
        Assert.Equal(MediaTypes.OciManifest, parsed.MediaType);
    }

    [Fact]
    public void Parse_EmptyContentTypeAndField_UsesField()
    {
        var parsed = Parse(ImageWithout(MediaTypes.DockerManifest), string.Empty);
        Assert.Equal(MediaTypes.DockerManifest, parsed.MediaType);
    }

    [Fact]
    public void Parse_ContentTypeWithParameters_IgnoresParameters()
    {
        var parsed = Parse(ImageWithout(MediaTypes.OciManifest), MediaTypes.OciManifest + "; charset=utf-8");
        Assert.Equal(MediaTypes.OciManifest, parsed.MediaType);
    }

    [Fact]
    public void Parse_ContentTypeDisagreesWithField_ThrowsManifestInvalid()
    {
        AssertInvalid(ImageWithout(MediaTypes.OciManifest), MediaTypes.DockerManifest, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_NoContentTypeAndNoField_ThrowsManifestInvalid()
    {
        AssertInvalid(ImageWithout(mediaType: null), null, OciErrorCode.ManifestInvalid);
    }

    [Theory]
    [InlineData(MediaTypes.DockerSchema1)]
    [InlineData(MediaTypes.DockerSchema1Signed)]
    public void Parse_Schema1ContentType_ThrowsManifestInvalid(string contentType)
    {
        const string body = """{"schemaVersion":1,"name":"r","tag":"t","architecture":"amd64","fsLayers":[],"history":[]}""";
        AssertInvalid(body, contentType, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_Schema1MediaTypeField_ThrowsManifestInvalid()
    {
        var body = $$"""{"schemaVersion":1,"mediaType":"{{MediaTypes.DockerSchema1Signed}}","fsLayers":[]}""";
        AssertInvalid(body, null, OciErrorCode.ManifestInvalid);
    }

    [Theory]
    [InlineData("application/json")]
    [InlineData("application/vnd.oci.image.config.v1+json")]
    [InlineData("text/plain")]
    public void Parse_UnsupportedContentType_ThrowsManifestInvalid(string contentType)
    {
        AssertInvalid(ImageWithout(mediaType: null), contentType, OciErrorCode.ManifestInvalid);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not json")]
    [InlineData("[]")]
    [InlineData("\"manifest\"")]
    [InlineData("{\"schemaVersion\":2,")]
    public void Parse_NotAJsonObject_ThrowsManifestInvalid(string body)
    {
        AssertInvalid(body, MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\"schemaVersion\":1,")]
    [InlineData("\"schemaVersion\":\"2\",")]
    [InlineData("\"schemaVersion\":2.5,")]
    public void Parse_SchemaVersionNotTwo_ThrowsManifestInvalid(string versionMember)
    {
        var body = $$"""{{{versionMember}}"config":{{Config}},"layers":{{Layers}}}""";
        AssertInvalid(body, MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_ImageManifest_ReturnsConfigThenLayersAsBlobs()
    {
        var parsed = Parse(ImageWithout(MediaTypes.OciManifest), MediaTypes.OciManifest);
        Assert.Collection(
            parsed.Blobs,
            config =>
            {
                Assert.Equal("application/vnd.oci.image.config.v1+json", config.MediaType);
                Assert.Equal(ConfigDigest, config.Digest.Value);
                Assert.Equal(2, config.Size);
                Assert.False(config.HasUrls);
            },
            layer =>
            {
                Assert.Equal(LayerDigest, layer.Digest.Value);
                Assert.Equal(0, layer.Size);
            });
        Assert.Empty(parsed.Children);
        Assert.Null(parsed.Subject);
    }

    [Fact]
    public void Parse_ExactBytes_DigestIsOverPushedBytes()
    {
        var body = "{ \"schemaVersion\" : 2,\n\"layers\":" + Layers + ",\"config\":" + Config + " }\n";
        var parsed = Parse(body, MediaTypes.OciManifest);
        Assert.Equal(Digest.Compute(DigestAlgorithm.Sha256, Encoding.UTF8.GetBytes(body)), parsed.Digest);
    }

    [Fact]
    public void Parse_Sha512Algorithm_DigestIsSha512()
    {
        var body = ImageWithout(MediaTypes.OciManifest);
        var parsed = ManifestParser.Parse(Encoding.UTF8.GetBytes(body), null, DigestAlgorithm.Sha512);
        Assert.Equal(DigestAlgorithm.Sha512, parsed.Digest.Algorithm);
        Assert.Equal(Digest.Compute(DigestAlgorithm.Sha512, Encoding.UTF8.GetBytes(body)), parsed.Digest);
    }

    [Fact]
    public void Parse_ImageWithoutConfig_ThrowsManifestInvalid()
    {
        var body = $$"""{"schemaVersion":2,"layers":{{Layers}}}""";
        AssertInvalid(body, MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_ImageWithoutLayers_ThrowsManifestInvalid()
    {
        var body = $$"""{"schemaVersion":2,"config":{{Config}}}""";
        AssertInvalid(body, MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_LayersNotArray_ThrowsManifestInvalid()
    {
        var body = $$$"""{"schemaVersion":2,"config":{{{Config}}},"layers":{}}""";
        AssertInvalid(body, MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_EmptyLayers_Succeeds()
    {
        var body = $$"""{"schemaVersion":2,"config":{{Config}},"layers":[]}""";
        Assert.Single(Parse(body, MediaTypes.OciManifest).Blobs);
    }

    [Fact]
    public void Parse_DescriptorWithoutMediaType_ThrowsManifestInvalid()
    {
        var layers = $$"""[{"digest":"{{LayerDigest}}","size":0}]""";
        AssertInvalid(ImageWith(layers), MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Theory]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData("sha256:abc")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("")]
    public void Parse_DescriptorWithBadDigest_ThrowsDigestInvalid(string digest)
    {
        var layers = $$"""[{"mediaType":"application/octet-stream","digest":"{{digest}}","size":0}]""";
        AssertInvalid(ImageWith(layers), MediaTypes.OciManifest, OciErrorCode.DigestInvalid);
    }

    [Fact]
    public void Parse_DescriptorWithoutDigest_ThrowsDigestInvalid()
    {
        const string layers = """[{"mediaType":"application/octet-stream","size":0}]""";
        AssertInvalid(ImageWith(layers), MediaTypes.OciManifest, OciErrorCode.DigestInvalid);
    }

    [Theory]
    [InlineData("")]
    [InlineData(",\"size\":-1")]
    [InlineData(",\"size\":\"10\"")]
    [InlineData(",\"size\":1.5")]
    public void Parse_DescriptorWithBadSize_ThrowsManifestInvalid(string sizeMember)
    {
        var layers = $$"""[{"mediaType":"application/octet-stream","digest":"{{LayerDigest}}"{{sizeMember}}}]""";
        AssertInvalid(ImageWith(layers), MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_DescriptorNotObject_ThrowsManifestInvalid()
    {
        AssertInvalid(ImageWith("[\"layer\"]"), MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_ForeignLayerWithUrls_SetsHasUrls()
    {
        var layers = $$"""[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":"{{LayerDigest}}","size":0,"urls":["https://example.invalid/layer"]}]""";
        var parsed = Parse(ImageWith(layers), MediaTypes.OciManifest);
        Assert.True(parsed.Blobs[1].HasUrls);
    }

    [Theory]
    [InlineData("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", true, true)]
    [InlineData("application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", true, true)]
    [InlineData("application/vnd.oci.image.layer.v1.tar+gzip", true, false)]
    [InlineData("application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", false, false)]
    public void IsForeign_OnlyForNonDistributableLayersWithUrls(string mediaType, bool withUrls, bool foreign)
    {
        var urls = withUrls ? ",\"urls\":[\"https://example.invalid/layer\"]" : string.Empty;
        var layers = $$"""[{"mediaType":"{{mediaType}}","digest":"{{LayerDigest}}","size":0{{urls}}}]""";
        Assert.Equal(foreign, Parse(ImageWith(layers), MediaTypes.OciManifest).Blobs[1].IsForeign);
    }

    [Fact]
    public void Parse_EmptyUrls_HasUrlsIsFalse()
    {
        var layers = $$"""[{"mediaType":"application/octet-stream","digest":"{{LayerDigest}}","size":0,"urls":[]}]""";
        Assert.False(Parse(ImageWith(layers), MediaTypes.OciManifest).Blobs[1].HasUrls);
    }

    [Theory]
    [InlineData(MediaTypes.OciIndex)]
    [InlineData(MediaTypes.DockerManifestList)]
    public void Parse_Index_ReturnsChildrenAndNoBlobs(string mediaType)
    {
        var body = $$$"""{"schemaVersion":2,"mediaType":"{{{mediaType}}}","manifests":[{"mediaType":"{{{MediaTypes.OciManifest}}}","digest":"{{{ChildDigest}}}","size":3,"platform":{"os":"linux","architecture":"amd64"}}]}""";
        var parsed = Parse(body, mediaType);
        Assert.True(parsed.IsIndex);
        Assert.Empty(parsed.Blobs);
        var child = Assert.Single(parsed.Children);
        Assert.Equal(ChildDigest, child.Digest.Value);
        Assert.Equal(3, child.Size);
    }

    [Fact]
    public void Parse_IndexWithoutManifests_ThrowsManifestInvalid()
    {
        const string body = """{"schemaVersion":2}""";
        AssertInvalid(body, MediaTypes.OciIndex, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_Subject_IsExtracted()
    {
        var body = $$$"""{"schemaVersion":2,"config":{{{Config}}},"layers":[],"subject":{"mediaType":"{{{MediaTypes.OciManifest}}}","digest":"{{{ChildDigest}}}","size":3}}""";
        var parsed = Parse(body, MediaTypes.OciManifest);
        Assert.NotNull(parsed.Subject);
        Assert.Equal(ChildDigest, parsed.Subject.Digest.Value);
        Assert.Equal(MediaTypes.OciManifest, parsed.Subject.MediaType);
        Assert.Equal(3, parsed.Subject.Size);
    }

    [Fact]
    public void Parse_NullSubject_IsIgnored()
    {
        var body = $$"""{"schemaVersion":2,"config":{{Config}},"layers":[],"subject":null}""";
        Assert.Null(Parse(body, MediaTypes.OciManifest).Subject);
    }

    [Fact]
    public void Parse_SubjectWithBadDigest_ThrowsDigestInvalid()
    {
        var body = $$$"""{"schemaVersion":2,"config":{{{Config}}},"layers":[],"subject":{"mediaType":"{{{MediaTypes.OciManifest}}}","digest":"sha256:zz","size":3}}""";
        AssertInvalid(body, MediaTypes.OciManifest, OciErrorCode.DigestInvalid);
    }

    [Fact]
    public void Parse_IndexSubject_IsExtracted()
    {
        var body = $$$"""{"schemaVersion":2,"manifests":[],"subject":{"mediaType":"{{{MediaTypes.OciManifest}}}","digest":"{{{ChildDigest}}}","size":3}}""";
        Assert.Equal(ChildDigest, Parse(body, MediaTypes.OciIndex).Subject?.Digest.Value);
    }

    [Fact]
    public void Parse_ArtifactTypeField_WinsOverConfigMediaType()
    {
        var body = $$"""{"schemaVersion":2,"artifactType":"application/vnd.example.sbom","config":{{Config}},"layers":[]}""";
        Assert.Equal("application/vnd.example.sbom", Parse(body, MediaTypes.OciManifest).ArtifactType);
    }

    [Fact]
    public void Parse_NoArtifactType_FallsBackToConfigMediaType()
    {
        var parsed = Parse(ImageWithout(MediaTypes.OciManifest), null);
        Assert.Equal("application/vnd.oci.image.config.v1+json", parsed.ArtifactType);
    }

    [Fact]
    public void Parse_IndexArtifactType_IsExtracted()
    {
        const string body = """{"schemaVersion":2,"artifactType":"application/vnd.example.set","manifests":[]}""";
        Assert.Equal("application/vnd.example.set", Parse(body, MediaTypes.OciIndex).ArtifactType);
    }

    [Fact]
    public void Parse_IndexWithoutArtifactType_IsNull()
    {
        const string body = """{"schemaVersion":2,"manifests":[]}""";
        Assert.Null(Parse(body, MediaTypes.OciIndex).ArtifactType);
    }

    [Fact]
    public void Parse_ArtifactTypeNotString_ThrowsManifestInvalid()
    {
        var body = $$"""{"schemaVersion":2,"artifactType":7,"config":{{Config}},"layers":[]}""";
        AssertInvalid(body, MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_Annotations_ReturnsRawObject()
    {
        var body = $$$"""{"schemaVersion":2,"config":{{{Config}}},"layers":[],"annotations":{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}}""";
        var parsed = Parse(body, MediaTypes.OciManifest);
        Assert.Equal("""{"org.opencontainers.image.created":"2024-01-01T00:00:00Z"}""", parsed.AnnotationsJson);
    }

    [Fact]
    public void Parse_NoAnnotations_IsNull()
    {
        Assert.Null(Parse(ImageWithout(MediaTypes.OciManifest), null).AnnotationsJson);
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("\"a\"")]
    [InlineData("1")]
    public void Parse_AnnotationsNotObject_ThrowsManifestInvalid(string annotations)
    {
        var body = $$"""{"schemaVersion":2,"config":{{Config}},"layers":[],"annotations":{{annotations}}}""";
        AssertInvalid(body, MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_UnknownFields_AreAccepted()
    {
        var body = $$"""{"schemaVersion":2,"config":{{Config}},"layers":[],"custom":{"x":[1,2,3]},"zz":null}""";
        Assert.Equal(MediaTypes.OciManifest, Parse(body, MediaTypes.OciManifest).MediaType);
    }

    [Fact]
    public void Parse_MediaTypeFieldNotString_ThrowsManifestInvalid()
    {
        var body = $$"""{"schemaVersion":2,"mediaType":2,"config":{{Config}},"layers":[]}""";
        AssertInvalid(body, MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Fact]
    public void Parse_DeeplyNestedJson_ThrowsManifestInvalid()
    {
        var nested = new string('[', 200) + new string(']', 200);
        var body = $$"""{"schemaVersion":2,"config":{{Config}},"layers":[],"deep":{{nested}}}""";
        AssertInvalid(body, MediaTypes.OciManifest, OciErrorCode.ManifestInvalid);
    }

    [Theory]
    [InlineData(null, "")]
    [InlineData("", "")]
    [InlineData(MediaTypes.OciManifest, MediaTypes.OciManifest)]
    [InlineData("application/vnd.oci.image.manifest.v1+json; charset=utf-8", MediaTypes.OciManifest)]
    [InlineData(" application/vnd.oci.image.index.v1+json ;q=1", MediaTypes.OciIndex)]
    public void WithoutParameters_ContentType_StripsParametersAndSpace(string? contentType, string expected)
    {
        Assert.Equal(expected, MediaTypes.WithoutParameters(contentType));
    }

    [Fact]
    public void Parse_InvalidUtf8InsideAString_ThrowsManifestInvalid()
    {
        var body = Encoding.UTF8.GetBytes(ImageWith(Layers).Replace("\"schemaVersion\":2", "\"schemaVersion\":2,\"annotations\":{\"k\":\"XX\"}", StringComparison.Ordinal));
        var marker = Array.IndexOf(body, (byte)'X');
        body[marker] = 0xff;
        body[marker + 1] = 0xfe;

        var valid = (byte[])body.Clone();
        valid[marker] = (byte)'a';
        valid[marker + 1] = (byte)'b';
        Assert.NotNull(ManifestParser.Parse(valid, MediaTypes.OciManifest, DigestAlgorithm.Sha256));

        var exception = Assert.Throws<OciException>(() => ManifestParser.Parse(body, MediaTypes.OciManifest, DigestAlgorithm.Sha256));

        Assert.Equal(OciErrorCode.ManifestInvalid, exception.Code);
        Assert.Contains("UTF-8", exception.Message, StringComparison.Ordinal);
    }

    private static string ImageWithout(string? mediaType)
    {
        var field = mediaType is null ? string.Empty : $"\"mediaType\":\"{mediaType}\",";
        return $$"""{"schemaVersion":2,{{field}}"config":{{Config}},"layers":{{Layers}}}""";
    }

    private static string ImageWith(string layers) =>
        $$"""{"schemaVersion":2,"config":{{Config}},"layers":{{layers}}}""";

    private static ParsedManifest Parse(string body, string? contentType) =>
        ManifestParser.Parse(Encoding.UTF8.GetBytes(body), contentType, DigestAlgorithm.Sha256);

    private static void AssertInvalid(string body, string? contentType, OciErrorCode expected)
    {
        var exception = Assert.Throws<OciException>(() => Parse(body, contentType));
        Assert.Equal(expected, exception.Code);
        Assert.Equal(400, exception.HttpStatus);
    }
}
