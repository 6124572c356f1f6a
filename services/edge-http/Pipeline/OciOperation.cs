using Registry.EdgeHttp.Routing;

namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// One client request on its way through the pipeline. Each stage calls the step it owns; an operation
/// that has no work for a stage passes it by. Stages run one after another, never at once, so an
/// operation's state needs no locking. The request's own task waits on <see cref="Completion"/> and then
/// writes the body, so bulk download bytes never hold a pipeline slot.
/// </summary>
internal abstract class OciOperation
{
    private const int Idle = 0;
    private const int InStep = 1;
    private const int Abandoned = 2;

    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _abortedAt;
    private int _stepState;
    private int _heldPlaces;
    private long _bodyBytes;
    private int _bodyCutOff;
    private Lock? _bodyLock; // made by the upload stage only: other requests never need it
    private System.IO.Pipelines.PipeReader? _bodyReader;

    protected OciOperation(HttpContext context, OciRoute route)
    {
        Context = context;
        Route = route;
        ExecutionContext = System.Threading.ExecutionContext.Capture();
        HasRequestBody = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>() is not { CanHaveBody: false };
    }

    /// <summary>
    /// Whether the request may carry a body (read once, at the start: the pipeline's bookkeeping must not
    /// touch the HTTP context after the operation ended, when the server may have recycled it).
    /// </summary>
    public bool HasRequestBody { get; }

    /// <summary>
    /// The request's execution context (capturing it copies nothing). Dataflow runs a stage's steps
    /// under whatever context started the stage's worker, so each step restores this one: its spans
    /// and the W3C context of its gRPC calls belong to this request's trace, and its log lines carry
    /// the request's scope (RequestId).
    /// </summary>
    public ExecutionContext? ExecutionContext { get; }

    /// <summary>The HTTP exchange.</summary>
    public HttpContext Context { get; }

    /// <summary>The parsed route.</summary>
    public OciRoute Route { get; }

    /// <summary>Cancelled when the client goes away; passed to every gRPC and storage call.</summary>
    public CancellationToken Aborted => Context.RequestAborted;

    /// <summary>What the auth stage must grant. Null for the base endpoint, which only needs a caller.</summary>
    public abstract ScopeDemand? Scope { get; }

    /// <summary>True when the manifest stage has work for this operation.</summary>
    public virtual bool UsesManifestStage => false;

    /// <summary>True when the blob stage has work for this operation.</summary>
    public virtual bool UsesBlobStage => false;

    /// <summary>
    /// True when the blob stage's work reads a request body (an upload's chunk): it runs in the upload
    /// stage, so that slow clients sending bodies never hold up blob reads and bodyless upload steps.
    /// </summary>
    public bool StreamsBody => UsesBlobStage && HasRequestBody;

    /// <summary>When the client went away (Stopwatch ticks), or 0 while it is still there.</summary>
    public long AbortedAt => Volatile.Read(ref _abortedAt);

    /// <summary>True once the client is known to be gone (abort signal, reset connection, body cut short).</summary>
    public bool ClientGone => AbortedAt != 0 || Context.RequestAborted.IsCancellationRequested;

    /// <summary>
    /// Notes the moment the client went away: from the abort token's callback, or where a read or write
    /// found the connection gone before Kestrel raised the abort signal. The first call wins.
    /// </summary>
    public void MarkAborted()
    {
        Interlocked.CompareExchange(ref _abortedAt, System.Diagnostics.Stopwatch.GetTimestamp(), 0);
        TryAbandon();
    }

    /// <summary>
    /// Claims the operation for one stage step. False when it is finished, or was abandoned while it
    /// waited in a queue (its request has returned, so nothing may touch its HTTP context any more).
    /// </summary>
    public bool TryBeginStep() => !IsFinished && Interlocked.CompareExchange(ref _stepState, InStep, Idle) == Idle;

    /// <summary>Releases the claim; a client that left during the step has its operation ended now, not at the next stage.</summary>
    public void EndStep()
    {
        Volatile.Write(ref _stepState, Idle);
        if (AbortedAt != 0)
        {
            TryAbandon();
        }
    }

    /// <summary>
    /// Ends an operation whose client left while it waits between steps, so the request returns at
    /// once instead of when a busy stage reaches it; the stages later pass it by.
    /// </summary>
    private void TryAbandon()
    {
        if (!IsFinished && Interlocked.CompareExchange(ref _stepState, Abandoned, Idle) == Idle)
        {
            _completion.TrySetException(new OperationCanceledException("the client went away"));
        }
    }

    /// <summary>Counts request body bytes received (the upload stage watches the rate while others wait for its places).</summary>
    public void AddBodyBytes(long bytes) => Interlocked.Add(ref _bodyBytes, bytes);

    /// <summary>Request body bytes received so far.</summary>
    internal long BodyBytes => Interlocked.Read(ref _bodyBytes);

    /// <summary>Where the upload stage last measured the body's rate: when (Stopwatch ticks) and at how many bytes.</summary>
    internal (long Ticks, long Bytes) BodyCheckpoint { get; set; }

    /// <summary>True once the upload stage cut the body off for arriving too slowly while other requests waited.</summary>
    internal bool BodyCutOff => Volatile.Read(ref _bodyCutOff) != 0;

    /// <summary>Starts the upload stage's step, from which <see cref="TryCutOffBody"/> may cut the body off.</summary>
    internal void StartWatchingBody(long now)
    {
        BodyCheckpoint = (now, BodyBytes);
        _bodyLock ??= new Lock();
        lock (_bodyLock)
        {
            _bodyReader = Context.Request.BodyReader;
        }
    }

    /// <summary>
    /// Ends the watch on the body: when the body has been read to its end (the step may still wait for
    /// the blob service, which is no slow sending), and when the step ends (the HTTP context is no longer
    /// touched by a cut-off).
    /// </summary>
    internal void StopWatchingBody()
    {
        if (_bodyLock is not { } bodyLock)
        {
            return;
        }

        lock (bodyLock)
        {
            _bodyReader = null;
        }
    }

    /// <summary>
    /// Cuts off a body in the upload stage's step: its pending (or next) read ends as cancelled, so the
    /// reader stops and the request is answered. False when the step has ended already. The read is not
    /// cancelled through a token: Kestrel's body reader is left unusable after that, and the drain of
    /// the rest of the body then fails with an error in the log.
    /// </summary>
    internal bool TryCutOffBody()
    {
        if (_bodyLock is not { } bodyLock)
        {
            return false;
        }

        lock (bodyLock)
        {
            if (_bodyReader is null || BodyCutOff)
            {
                return false;
            }

            Volatile.Write(ref _bodyCutOff, 1);
            _bodyReader.CancelPendingRead();
            return true;
        }
    }

    /// <summary>Notes a place reserved for this operation in a stage (a bit per stage, see <see cref="RequestPipeline"/>).</summary>
    internal void HoldPlace(int stageBit) => Interlocked.Or(ref _heldPlaces, stageBit);

    /// <summary>True while the operation holds a place in the stage.</summary>
    internal bool HoldsPlace(int stageBit) => (Volatile.Read(ref _heldPlaces) & stageBit) != 0;

    /// <summary>Gives up the place in the stage; true only for the one call that held it.</summary>
    internal bool TryReleasePlace(int stageBit) => (Interlocked.And(ref _heldPlaces, ~stageBit) & stageBit) != 0;

    /// <summary>Completes when the pipeline is done with the operation; faults with its failure.</summary>
    public Task Completion => _completion.Task;

    /// <summary>True once the operation failed or finished; later stages pass it by.</summary>
    public bool IsFinished => _completion.Task.IsCompleted;

    /// <summary>The manifest stage's step.</summary>
    public virtual Task RunManifestStageAsync(EdgeContext edge, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The blob stage's step.</summary>
    public virtual Task RunBlobStageAsync(EdgeContext edge, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The assemble stage's step: sets status and headers from what the earlier stages found.</summary>
    public abstract void Assemble(EdgeContext edge);

    /// <summary>A small response body the assemble step prepared, written after the pipeline.</summary>
    protected ReadOnlyMemory<byte> Body { get; set; }

    /// <summary>Writes the response body after the pipeline: by default <see cref="Body"/>, never for HEAD.</summary>
    public virtual Task WriteBodyAsync(EdgeContext edge, CancellationToken cancellationToken)
    {
        if (Body.IsEmpty || HttpMethods.IsHead(Context.Request.Method))
        {
            return Task.CompletedTask;
        }

        return Body.Length <= BodyWriteChunk
            ? Context.Response.Body.WriteAsync(Body, cancellationToken).AsTask()
            : WriteInChunksAsync(Body, edge.Options.ResponseStallTimeout, cancellationToken);
    }

    // A large body (a manifest of up to 4 MiB) written at once is copied whole into the response pipe's
    // buffers before the first flush: 40 GETs of a 4 MiB manifest held 160 MiB. In chunks, each flush waits
    // for the socket once the pipe holds Kestrel's response buffer (256 KiB), so one response holds about that.
    // A chunk that does not drain within the stall timeout ends the connection, as for blob downloads.
    private async Task WriteInChunksAsync(ReadOnlyMemory<byte> body, TimeSpan stallTimeout, CancellationToken cancellationToken)
    {
        var writer = Context.Response.BodyWriter;
        using var stall = new WriteStall(stallTimeout, cancellationToken, ClientAcknowledged());
        try
        {
            while (!body.IsEmpty)
            {
                var chunk = body[..Math.Min(body.Length, BodyWriteChunk)];
                stall.Arm();
                var flush = await writer.WriteAsync(chunk, stall.Token);
                stall.Disarm();
                if (flush.IsCanceled || flush.IsCompleted)
                {
                    MarkAborted();
                    return;
                }

                body = body[chunk.Length..];
            }
        }
        catch (OperationCanceledException) when (stall.Fired)
        {
            WriteStall.StalledManifests.Inc();
            MarkAborted();
            Context.Abort();
        }
    }

    private const int BodyWriteChunk = 64 * 1024;

    /// <summary>What the client has acknowledged of this connection's bytes, read from its socket; null when there is no socket to ask.</summary>
    protected Func<long>? ClientAcknowledged() =>
        Context.Features.Get<Microsoft.AspNetCore.Connections.Features.IConnectionSocketFeature>()?.Socket is { } socket
            ? () => Registry.Hosting.SocketQueue.Acknowledged(socket)
            : null;

    /// <summary>Sets a JSON body and its Content-Type and Content-Length.</summary>
    protected void SetJsonBody(ReadOnlyMemory<byte> json, string contentType = "application/json")
    {
        Body = json;
        Context.Response.ContentType = contentType;
        Context.Response.ContentLength = json.Length;
    }

    /// <summary>Ends the operation with a failure the edge answers for.</summary>
    public void Fail(Exception exception) => _completion.TrySetException(exception);

    /// <summary>Ends the operation successfully.</summary>
    public void Complete() => _completion.TrySetResult();
}
