using Registry.Protos;

namespace Registry.Auth.Authorization;

/// <summary>Decides whether a caller may do what a request asks. The seam where token and basic auth plug in.</summary>
public interface IAuthorizer
{
    /// <summary>Answers an authorisation request; a refusal is an answer, not an exception.</summary>
    ValueTask<AuthorizeResponse> AuthorizeAsync(AuthorizeRequest request, CancellationToken cancellationToken);
}
