using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Oci.Digests;
using Registry.Oci.Errors;
using Registry.Oci.Names;
using Registry.Protos;

namespace Registry.EdgeHttp.Operations;

/// <summary>
/// POST /v2/&lt;name&gt;/blobs/uploads/ (end-4a, end-4b, end-11): opens a session, pushes a whole blob
/// when ?digest= is given, or mounts a blob from another repository (201), falling back to a new session
/// (202) when the mount cannot be done (case BL-10).
/// </summary>
internal sealed class UploadStartOperation : UploadOperation
{
    private string _digest = string.Empty;
    private string _uploadId = string.Empty;

    public UploadStartOperation(HttpContext context, OciRoute route)
        : base(context, route)
    {
    }

    public override async Task RunBlobStageAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        var query = Context.Request.Query;
        var blobs = edge.Clients.Blobs;
        if (query.TryGetValue("mount", out var mountValue))
        {
            var mount = mountValue.ToString();
            if (!Digest.TryParse(mount, out _))
            {
                // Choice documented in README: a malformed mount digest is a client error, not a silent new session.
                throw new OciException(OciErrorCode.DigestInvalid, "invalid mount digest", mount);
            }

            var from = query["from"].ToString();
            // TODO: the mount does not ask the auth service for pull on the source repository yet; it must once auth lands.
            if (RepositoryName.IsValid(from))
            {
                var mounted = await CallAsync(blobs.MountBlobAsync(
                    new MountBlobRequest { Repository = Route.Name, Digest = mount, FromRepository = from },
                    edge.Clients.Unary(cancellationToken)));
                if (mounted.Mounted)
                {
                    _digest = mount;
                    return;
                }
            }
        }

        var digest = query.ContainsKey("digest") ? RequiredDigest() : null;
        var algorithm = digest is null ? query["digest-algorithm"].ToString() : digest[..digest.IndexOf(':')];
        var session = await CallAsync(blobs.StartUploadAsync(
            new StartUploadRequest { Repository = Route.Name, DigestAlgorithm = algorithm },
            edge.Clients.Unary(cancellationToken)));
        _uploadId = session.UploadId;
        if (edge.Options.DirectUploadWrites)
        {
            edge.StagingFolders.Remember(Route.Name, _uploadId, session.StagingFolder);
        }

        SetSessionHeaders(edge, _uploadId);
        if (digest is null)
        {
            return;
        }

        // Monolithic upload: the whole blob is the POST body.
        if (UploadBody.HasBody(Context))
        {
            await UploadBody.AppendAndCompleteAsync(edge, this, Route.Name, _uploadId, digest, cancellationToken);
            _digest = digest;
            return;
        }

        var completed = await CallAsync(blobs.CompleteUploadAsync(
            new CompleteUploadRequest { Repository = Route.Name, UploadId = _uploadId, Digest = digest },
            edge.Clients.Unary(cancellationToken)));
        _digest = completed.Digest;
    }

    public override void Assemble(EdgeContext edge)
    {
        if (_digest.Length > 0)
        {
            Context.Response.Headers.Remove(Http.OciHeaders.UploadUuid);
            CreatedAnswer(edge, _digest);
            return;
        }

        SessionAnswer(StatusCodes.Status202Accepted, 0);
    }
}
