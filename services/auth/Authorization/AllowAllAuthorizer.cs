using Registry.Protos;

namespace Registry.Auth.Authorization;

/// <summary>
/// Grants every scope to every caller, as an open registry does.
/// TODO: credentials and token auth are not checked yet; until the auth issue lands anyone who can reach the edge can push and delete.
/// </summary>
internal sealed class AllowAllAuthorizer : IAuthorizer
{
    private static readonly AuthorizeResponse Allowed = new() { Allowed = true, Authenticated = false };

    /// <inheritdoc />
    public ValueTask<AuthorizeResponse> AuthorizeAsync(AuthorizeRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Allowed);
}
