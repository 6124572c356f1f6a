using Registry.Oci.Errors;

namespace Registry.UnitTests.Errors;

public sealed class OciErrorsTests
{
    public static TheoryData<OciErrorCode> AllCodes()
    {
        var data = new TheoryData<OciErrorCode>();
        foreach (var code in Enum.GetValues<OciErrorCode>())
        {
            data.Add(code);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(AllCodes))]
    public void TryParse_NameOfEveryCode_RoundTrips(OciErrorCode code)
    {
        Assert.True(OciErrors.TryParse(code.Name(), out var parsed));
        Assert.Equal(code, parsed);
        Assert.False(string.IsNullOrWhiteSpace(code.DefaultMessage()));
        Assert.InRange(code.HttpStatus(), 400, 599);
    }

    [Fact]
    public void Name_EveryCode_IsDistinctUpperSnakeCase()
    {
        var names = Enum.GetValues<OciErrorCode>().Select(code => code.Name()).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.All(names, name => Assert.Matches("^[A-Z_]+$", name));
    }

    [Theory]
    [InlineData(OciErrorCode.BlobUnknown, "BLOB_UNKNOWN", 404)]
    [InlineData(OciErrorCode.BlobUploadInvalid, "BLOB_UPLOAD_INVALID", 400)]
    [InlineData(OciErrorCode.BlobUploadUnknown, "BLOB_UPLOAD_UNKNOWN", 404)]
    [InlineData(OciErrorCode.DigestInvalid, "DIGEST_INVALID", 400)]
    [InlineData(OciErrorCode.ManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", 404)]
    [InlineData(OciErrorCode.ManifestInvalid, "MANIFEST_INVALID", 400)]
    [InlineData(OciErrorCode.ManifestUnknown, "MANIFEST_UNKNOWN", 404)]
    [InlineData(OciErrorCode.NameInvalid, "NAME_INVALID", 400)]
    [InlineData(OciErrorCode.NameUnknown, "NAME_UNKNOWN", 404)]
    [InlineData(OciErrorCode.SizeInvalid, "SIZE_INVALID", 400)]
    [InlineData(OciErrorCode.Unauthorized, "UNAUTHORIZED", 401)]
    [InlineData(OciErrorCode.Denied, "DENIED", 403)]
    [InlineData(OciErrorCode.Unsupported, "UNSUPPORTED", 405)]
    [InlineData(OciErrorCode.TooManyRequests, "TOOMANYREQUESTS", 429)]
    [InlineData(OciErrorCode.TagInvalid, "TAG_INVALID", 400)]
    [InlineData(OciErrorCode.PaginationNumberInvalid, "PAGINATION_NUMBER_INVALID", 400)]
    [InlineData(OciErrorCode.RangeInvalid, "RANGE_INVALID", 416)]
    [InlineData(OciErrorCode.Unavailable, "UNAVAILABLE", 503)]
    [InlineData(OciErrorCode.Unknown, "UNKNOWN", 500)]
    public void Table_SpecCode_HasWireNameAndStatus(OciErrorCode code, string name, int status)
    {
        Assert.Equal(name, code.Name());
        Assert.Equal(status, code.HttpStatus());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("blob_unknown")]
    [InlineData("NOT_A_CODE")]
    public void TryParse_UnknownName_ReturnsFalseAndUnknown(string? name)
    {
        Assert.False(OciErrors.TryParse(name, out var code));
        Assert.Equal(OciErrorCode.Unknown, code);
    }

    [Fact]
    public void OciException_Defaults_ComeFromTable()
    {
        var exception = new OciException(OciErrorCode.SizeInvalid);
        Assert.Equal(OciErrorCode.SizeInvalid, exception.Code);
        Assert.Equal(OciErrorCode.SizeInvalid.DefaultMessage(), exception.Message);
        Assert.Equal(400, exception.HttpStatus);
        Assert.Null(exception.Detail);
    }

    [Fact]
    public void OciException_ExplicitStatus_OverridesTable()
    {
        var exception = new OciException(OciErrorCode.BlobUploadInvalid, "out of order", "0-1023", 416)
        {
            UploadSize = 1024,
        };
        Assert.Equal(416, exception.HttpStatus);
        Assert.Equal("out of order", exception.Message);
        Assert.Equal("0-1023", exception.Detail);
        Assert.Equal(1024, exception.UploadSize);
    }

    [Fact]
    public void Throw_Code_ThrowsOciException()
    {
        var exception = Assert.Throws<OciException>(() => OciException.Throw(OciErrorCode.NameInvalid));
        Assert.Equal(OciErrorCode.NameInvalid, exception.Code);
    }
}
