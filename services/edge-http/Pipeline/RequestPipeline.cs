using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Tasks.Dataflow;
using Microsoft.Extensions.Options;
using Registry.EdgeHttp.Routing;
using Registry.Hosting;
using Registry.Hosting.Grpc;
using Registry.Hosting.Observability;
using Registry.Oci.Errors;
using Registry.Protos;

namespace Registry.EdgeHttp.Pipeline;

/// <summary>
/// The request pipeline: auth → manifest → blob (or upload) → assemble, one bounded Dataflow block per
/// stage. The blob stage's work for requests with a body runs in a block of its own (upload), so slow
/// clients sending chunks never hold up blob reads. Operations skip the stages they have no work for
/// (link predicates). Admission reserves a place in each manifest, blob or upload stage an operation
/// will use before it enters the first stage, and refuses (after the admission wait) when one is full,
/// so the edge answers 429 instead of queueing without bound. Reserving up front keeps one kind of work from blocking another: a Dataflow block
/// offers only the head of its output, so an upload waiting at the door of a full blob stage would
/// otherwise hold every manifest GET queued behind it in the auth stage. Stage steps never throw into
/// the block: a failure ends the operation, not the pipeline.
/// </summary>
internal sealed partial class RequestPipeline : IAsyncDisposable
{
    private static readonly string[] StageSpanNames = ["pipeline auth", "pipeline manifest", "pipeline blob", "pipeline assemble", "pipeline upload"];

    // Bits of the places an operation holds (OciOperation.HoldPlace).
    private const int ManifestPlace = 1;
    private const int BlobPlace = 2;
    private const int UploadPlace = 4;

    private static readonly TimeSpan PressureInterval = TimeSpan.FromMilliseconds(25);
    private static readonly TimeSpan SlowBodySweep = TimeSpan.FromSeconds(1);

    private static readonly Prometheus.Counter SlowBodiesCut = Prometheus.Metrics.CreateCounter(
        "registry_pipeline_slow_bodies_cut_total",
        "Upload bodies cut off (408) because they arrived slower than Registry:Edge:Pipeline:SlowBodyBytesPerSecond while other requests found the upload stage full.");

    private static readonly Prometheus.Gauge BlobLimitGauge = Prometheus.Metrics.CreateGauge(
        "registry_pipeline_blob_limit",
        "Operations the blob and upload stages admit together now: their capacity, less while the CPU is under pressure or the blob stage is congested.");

    private readonly EdgeContext _edge;
    private readonly ILogger<RequestPipeline> _logger;
    private readonly TransformBlock<OciOperation, OciOperation> _auth;
    private readonly TransformBlock<OciOperation, OciOperation> _manifest;
    private readonly TransformBlock<OciOperation, OciOperation> _blob;
    private readonly TransformBlock<OciOperation, OciOperation> _upload;
    private readonly ActionBlock<OciOperation> _assemble;

    private readonly PipelineMetrics _metrics;
    private readonly TimeSpan _admissionWait;

    // Places in the manifest, blob and upload stages, reserved at admission and given back when the
    // stage has handled the operation (or when it ends before reaching the stage).
    private readonly SemaphoreSlim _manifestPlaces;
    private readonly SemaphoreSlim _blobPlaces;
    private readonly SemaphoreSlim _uploadPlaces;

    // Under pressure the blob and upload stages take fewer operations than their places (see AdaptiveLimit).
    private readonly AdaptiveLimit _blobLimit;
    private readonly SchedulingDelay _schedulingDelay = new();
    private readonly TimeSpan _pressureDelay;
    private readonly Timer? _pressureTimer;
    private readonly long _congestedStepTicks;
    private int _blobInUse;

    // The shortest blob-stage step of a request without a body since the last pressure check (ticks).
    private long _shortestBodylessStep = long.MaxValue;

    // The quickest bodyless step of each of the last four checks (touched by the pressure timer only).
    private readonly long[] _recentShortest = [long.MaxValue, long.MaxValue, long.MaxValue, long.MaxValue];
    private int _checks; // the next slot of _recentShortest
    private int _checking;

    // Bodies in the upload stage, watched for their rate while other requests wait for its places.
    private readonly ConcurrentDictionary<OciOperation, byte> _bodies = new(ReferenceEqualityComparer.Instance);
    private readonly Timer? _slowBodyTimer;
    private readonly long _slowBodyBytesPerSecond;
    private readonly long _slowBodyWindowTicks;
    private long _uploadRefusedAt; // when an upload-stage request last found no place (Stopwatch ticks)
    private int _sweeping;

    public RequestPipeline(EdgeContext edge, IOptions<EdgeOptions> options, ILogger<RequestPipeline> logger)
    {
        _edge = edge;
        _logger = logger;
        var pipeline = options.Value.Pipeline;
        pipeline.Validate();
        _admissionWait = TimeSpan.FromMilliseconds(pipeline.AdmissionWaitMilliseconds);
        var control = StageOptions(pipeline.EffectiveControlParallelism, pipeline.CapacityFactor);
        var blob = StageOptions(pipeline.EffectiveBlobParallelism, pipeline.CapacityFactor);
        var controlPlaces = control.BoundedCapacity;
        var blobPlaces = blob.BoundedCapacity;
        _manifestPlaces = new SemaphoreSlim(controlPlaces, controlPlaces);
        _blobPlaces = new SemaphoreSlim(blobPlaces, blobPlaces);
        // Upload bodies get no queue: a body waits for a sender that may take minutes, so one queued behind
        // slow senders would wait as long without limit. It gets a running slot within the admission wait
        // or a 429 with Retry-After.
        // A body trickling in holds its place; while others find the stage full, the slowest are cut off (SweepSlowBodies).
        var uploadPlaces = pipeline.EffectiveBlobParallelism;
        _uploadPlaces = new SemaphoreSlim(uploadPlaces, uploadPlaces);
        _blobLimit = new AdaptiveLimit(blobPlaces, floor: Math.Min(4 * Environment.ProcessorCount, blobPlaces / 4));
        BlobLimitGauge.Set(_blobLimit.Current);
        _pressureDelay = TimeSpan.FromMilliseconds(pipeline.PressureDelayMilliseconds);
        _congestedStepTicks = (long)(pipeline.CongestedStepMilliseconds * (Stopwatch.Frequency / 1000.0));
        if (pipeline.PressureDelayMilliseconds > 0 || pipeline.CongestedStepMilliseconds > 0)
        {
            _pressureTimer = new Timer(static state => ((RequestPipeline)state!).CheckPressure(), this, PressureInterval, PressureInterval);
        }

        _slowBodyBytesPerSecond = pipeline.SlowBodyBytesPerSecond;
        _slowBodyWindowTicks = pipeline.SlowBodySeconds * Stopwatch.Frequency;
        if (_slowBodyBytesPerSecond > 0)
        {
            _slowBodyTimer = new Timer(static state => ((RequestPipeline)state!).SweepSlowBodies(), this, SlowBodySweep, SlowBodySweep);
        }

        // The places bound the manifest and blob stages. Their blocks get room to spare, because a place
        // is given back as the step ends, a moment before the block hands the operation on: a block that
        // declined would stop its upstream block's whole output behind one operation.
        var manifestBlock = StageOptions(pipeline.EffectiveControlParallelism, pipeline.CapacityFactor * 2);
        var blobBlock = StageOptions(pipeline.EffectiveBlobParallelism, pipeline.CapacityFactor * 2);

        _auth = new TransformBlock<OciOperation, OciOperation>(op => RunStepAsync(op, PipelineMetrics.Auth, AuthorizeAsync), control);
        _manifest = new TransformBlock<OciOperation, OciOperation>(
            op => RunStepAsync(op, PipelineMetrics.Manifest, static (edge, o, ct) => o.RunManifestStageAsync(edge, ct)), manifestBlock);
        _blob = new TransformBlock<OciOperation, OciOperation>(
            op => RunStepAsync(op, PipelineMetrics.Blob, static (edge, o, ct) => o.RunBlobStageAsync(edge, ct)), blobBlock);

        // The blob stage's work for requests with a body (upload chunks), apart: a slow client sending a
        // body holds its place for as long as it takes, and must not hold up blob reads behind it.
        _upload = new TransformBlock<OciOperation, OciOperation>(
            op => RunStepAsync(op, PipelineMetrics.Upload, static (edge, o, ct) => o.RunBlobStageAsync(edge, ct)), blobBlock);
        _assemble = new ActionBlock<OciOperation>(AssembleStep, new ExecutionDataflowBlockOptions
        {
            BoundedCapacity = control.BoundedCapacity,
            MaxDegreeOfParallelism = control.MaxDegreeOfParallelism,
            EnsureOrdered = false,
        });

        // Every link has a predicate and exactly one matches each operation: a source offers an operation
        // to its links in order, so a catch-all link would take operations whose stage is merely full
        // and let them skip it. Finished operations are dropped first; the stage links look only at what
        // never changes, so an operation abandoned between two predicate checks still finds one link
        // (the next stage then passes it by) instead of none.
        // Operations that end before a stage they reserved are dropped here, giving their places back.
        var drop = new ActionBlock<OciOperation>(ReleasePlaces);
        _auth.LinkTo(drop, op => op.IsFinished);
        _auth.LinkTo(_manifest, op => op.UsesManifestStage);
        _auth.LinkTo(_upload, op => !op.UsesManifestStage && op.StreamsBody);
        _auth.LinkTo(_blob, op => !op.UsesManifestStage && op.UsesBlobStage && !op.StreamsBody);
        _auth.LinkTo(_assemble, op => !op.UsesManifestStage && !op.UsesBlobStage);
        _manifest.LinkTo(drop, op => op.IsFinished);
        _manifest.LinkTo(_upload, op => op.StreamsBody);
        _manifest.LinkTo(_blob, op => op.UsesBlobStage && !op.StreamsBody);
        _manifest.LinkTo(_assemble, op => !op.UsesBlobStage);
        _blob.LinkTo(drop, op => op.IsFinished);
        _blob.LinkTo(_assemble);
        _upload.LinkTo(drop, op => op.IsFinished);
        _upload.LinkTo(_assemble);

        Supervise(_auth, "auth");
        Supervise(_manifest, "manifest");
        Supervise(_blob, "blob");
        Supervise(_upload, "upload");
        Supervise(_assemble, "assemble");

        _metrics = new PipelineMetrics(QueueLength, [control.BoundedCapacity, controlPlaces, blobPlaces, control.BoundedCapacity, uploadPlaces]);
    }

    /// <summary>The pipeline's stage metrics.</summary>
    public PipelineMetrics Metrics => _metrics;

    /// <summary>The blob stage's limit under pressure (tests drive it directly, with the pressure checks off).</summary>
    internal AdaptiveLimit BlobLimit => _blobLimit;

    /// <summary>Operations waiting in or passing through each stage (for metrics and the leak detector).</summary>
    public (int Auth, int Manifest, int Blob, int Assemble) QueueDepths =>
        (_auth.InputCount + _auth.OutputCount, _manifest.InputCount + _manifest.OutputCount,
         _blob.InputCount + _blob.OutputCount + _upload.InputCount + _upload.OutputCount, _assemble.InputCount);

    /// <summary>True when a stage's block has failed: it takes no operations any more, so the edge cannot serve.</summary>
    public bool IsFaulted => _auth.Completion.IsFaulted || _manifest.Completion.IsFaulted || _blob.Completion.IsFaulted
        || _upload.Completion.IsFaulted || _assemble.Completion.IsFaulted;

    /// <summary>
    /// True when operations wait in a stage's queue and no step anywhere has finished for longer than
    /// <paramref name="limit"/>: the pipeline is wedged (a long upload alone holds a slot without
    /// queueing anything, so it never counts).
    /// </summary>
    public bool IsStalled(TimeSpan limit)
    {
        if (IsFaulted)
        {
            return true;
        }

        // Waiting: in a stage's input, or done with a stage and unable to move on (its output).
        var (auth, manifest, blob, assemble) = QueueDepths;
        var waiting = auth + manifest + blob + assemble;
        return waiting > 0 && _edge.SinceProgress > limit;
    }

    /// <summary>Admits an operation, or returns false at once when a stage it needs is full.</summary>
    public bool TryEnter(OciOperation operation)
    {
        var full = TryReservePlaces(operation, out _);
        if (full < 0)
        {
            if (PostToAuth(operation))
            {
                return true;
            }

            full = PipelineMetrics.Auth;
        }

        ReleasePlaces(operation);
        PipelineMetrics.Rejected(full);
        return false;
    }

    /// <summary>
    /// Admits an operation; when a stage it needs is full, waits up to the admission wait for a place
    /// (in arrival order), then returns false (also when the client leaves while it waits: the caller
    /// tells the two apart by its abort token). Without an admission wait this is <see cref="TryEnter"/>.
    /// </summary>
    public ValueTask<bool> TryEnterAsync(OciOperation operation, CancellationToken aborted)
    {
        if (_admissionWait <= TimeSpan.Zero)
        {
            return new ValueTask<bool>(TryEnter(operation));
        }

        var full = TryReservePlaces(operation, out var heldBack);
        if (full < 0 && PostToAuth(operation))
        {
            return new ValueTask<bool>(true);
        }

        if (heldBack)
        {
            // The CPU cannot keep up: waiting would only make the refusal slower.
            ReleasePlaces(operation);
            PipelineMetrics.Rejected(full);
            return new ValueTask<bool>(false);
        }

        return WaitForPlaceAsync(operation, aborted);
    }

    // Dataflow starts a stage's worker on the thread that hands it an operation, and the worker's tasks
    // and continuations capture that thread's execution context: one request's log scope and trace, copied
    // into every continuation after it. Each step restores its own request's context (RunStepAsync), so the
    // workers are started without one.
    private bool PostToAuth(OciOperation operation)
    {
        using (ExecutionContext.SuppressFlow())
        {
            return _auth.Post(operation);
        }
    }

    private Task<bool> SendToAuthAsync(OciOperation operation, CancellationToken cancellationToken)
    {
        using (ExecutionContext.SuppressFlow())
        {
            return _auth.SendAsync(operation, cancellationToken);
        }
    }

    private async ValueTask<bool> WaitForPlaceAsync(OciOperation operation, CancellationToken aborted)
    {
        var started = Stopwatch.GetTimestamp();
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        wait.CancelAfter(_admissionWait);
        var full = PipelineMetrics.Auth;
        try
        {
            if (operation.UsesManifestStage && !operation.HoldsPlace(ManifestPlace))
            {
                full = PipelineMetrics.Manifest;
                await _manifestPlaces.WaitAsync(wait.Token);
                operation.HoldPlace(ManifestPlace);
            }

            if (operation.UsesBlobStage && !operation.HoldsPlace(BlobPlaceOf(operation)))
            {
                full = operation.StreamsBody ? PipelineMetrics.Upload : PipelineMetrics.Blob;
                await BlobPlacesOf(operation).WaitAsync(wait.Token);
                TakeBlobPlace(operation);
            }

            // The offer is withdrawn when the wait ends unanswered: nothing is left queued behind a refusal.
            full = PipelineMetrics.Auth;
            if (PostToAuth(operation) || await SendToAuthAsync(operation, wait.Token))
            {
                PipelineMetrics.AdmissionWaited(PipelineMetrics.AdmissionOutcome.Admitted, Stopwatch.GetElapsedTime(started));
                return true;
            }
        }
        catch (OperationCanceledException)
        {
        }

        ReleasePlaces(operation);
        if (aborted.IsCancellationRequested)
        {
            // The client left while it waited: nobody to refuse.
            PipelineMetrics.AdmissionWaited(PipelineMetrics.AdmissionOutcome.Abandoned, Stopwatch.GetElapsedTime(started));
            return false;
        }

        PipelineMetrics.AdmissionWaited(PipelineMetrics.AdmissionOutcome.Refused, Stopwatch.GetElapsedTime(started));
        PipelineMetrics.Rejected(full);
        return false;
    }

    // Takes a place in every stage the operation needs that it does not hold yet, without waiting.
    // Returns -1 when it holds them all, else the stage that was full (places taken stay held).
    private int TryReservePlaces(OciOperation operation, out bool heldBack)
    {
        heldBack = false;
        if (operation.UsesManifestStage && !operation.HoldsPlace(ManifestPlace))
        {
            if (!_manifestPlaces.Wait(0))
            {
                return PipelineMetrics.Manifest;
            }

            operation.HoldPlace(ManifestPlace);
        }

        if (operation.UsesBlobStage && !operation.HoldsPlace(BlobPlaceOf(operation)))
        {
            var stage = operation.StreamsBody ? PipelineMetrics.Upload : PipelineMetrics.Blob;
            if (_blobLimit.Reduced && Volatile.Read(ref _blobInUse) >= BlobLimitFor(operation))
            {
                heldBack = true;
                NoteRefused(stage);
                return stage;
            }

            if (!BlobPlacesOf(operation).Wait(0))
            {
                NoteRefused(stage);
                return stage;
            }

            TakeBlobPlace(operation);
        }

        return -1;
    }

    // The blob stage's work runs in one of two blocks, each with its own places (see the upload block).
    private static int BlobPlaceOf(OciOperation operation) => operation.StreamsBody ? UploadPlace : BlobPlace;

    private SemaphoreSlim BlobPlacesOf(OciOperation operation) => operation.StreamsBody ? _uploadPlaces : _blobPlaces;

    // Requests that continue an upload (PATCH, PUT, status) get twice the limit: refusing the PUT of an
    // upload whose POST was admitted wastes that POST (and the body sent with it), so new uploads give
    // way first, at three quarters of it, and blob reads in between. Continuing requests are still
    // bounded: never held back, they made the 10x overload's admitted p99 2-3x worse (612-922 against
    // 300-367 ms side by side, 2026-12-05), though they spare a burst's PATCHes some refusals.
    private int BlobLimitFor(OciOperation operation)
    {
        var limit = _blobLimit.Current;
        return operation.Route.Kind switch
        {
            OciRouteKind.Upload => 2 * limit,
            OciRouteKind.UploadStart => limit - (limit / 4),
            _ => limit,
        };
    }

    // Both blocks' places count towards the adaptive limit.
    private void TakeBlobPlace(OciOperation operation)
    {
        Interlocked.Increment(ref _blobInUse);
        operation.HoldPlace(BlobPlaceOf(operation));
    }

    // Every 25 ms: was the CPU under pressure at the last probe, or did even the quickest bodyless blob
    // step of the last 100 ms take long? Then queue the next probe. (The quickest step is taken over four
    // checks: one check's few steps would too often all be slow ones.)
    private void CheckPressure()
    {
        // Timer callbacks can overlap when the pool runs late; a late one simply skips its turn.
        if (Interlocked.Exchange(ref _checking, 1) == 1)
        {
            return;
        }

        try
        {
            CheckPressureOnce();
        }
        catch (OutOfMemoryException)
        {
            // A timer callback that throws ends the process; the next check tries again.
        }
        finally
        {
            Volatile.Write(ref _checking, 0);
        }
    }

    private void CheckPressureOnce()
    {
        _recentShortest[_checks] = Interlocked.Exchange(ref _shortestBodylessStep, long.MaxValue);
        _checks = (_checks + 1) % _recentShortest.Length;
        var shortest = long.MaxValue;
        foreach (var ticks in _recentShortest)
        {
            shortest = Math.Min(shortest, ticks);
        }

        var congested = _congestedStepTicks > 0 && shortest != long.MaxValue && shortest > _congestedStepTicks;
        var pressured = _pressureDelay > TimeSpan.Zero && _schedulingDelay.Current > _pressureDelay;
        _blobLimit.Observe(congested || pressured, Volatile.Read(ref _blobInUse));
        BlobLimitGauge.Set(_blobLimit.Current);
        _schedulingDelay.Sample();
    }

    // A blob step with no request body to read (upload start, blob HEAD or GET before its bytes, an
    // upload's closing PUT) is all server work: when even the quickest of them is slow, the stage's
    // work queues behind something (the metadata writer, the disk), however fast or slow the clients are.
    private void NoteBlobStep(OciOperation operation, long elapsedTicks)
    {
        if (operation.HasRequestBody)
        {
            return;
        }

        AtomicMin.Lower(ref _shortestBodylessStep, elapsedTicks);
    }

    // Slow bodies are cut off only while the upload stage turns requests away.
    private void NoteRefused(int stage)
    {
        if (stage == PipelineMetrics.Upload && _slowBodyTimer is not null)
        {
            Volatile.Write(ref _uploadRefusedAt, Stopwatch.GetTimestamp());
        }
    }

    // Every second: while the upload stage has turned a request away within the last window, a body that
    // brought fewer than SlowBodyBytesPerSecond over its last window is cut off (408), so its place goes
    // to a request that can use it. A body is measured once per window, from its step's start; with
    // nobody waiting, a slow body keeps its place for as long as Kestrel's own minimum rate allows.
    private void SweepSlowBodies()
    {
        if (Interlocked.Exchange(ref _sweeping, 1) == 1)
        {
            return;
        }

        try
        {
            var now = Stopwatch.GetTimestamp();
            var contended = now - Volatile.Read(ref _uploadRefusedAt) <= _slowBodyWindowTicks;
            foreach (var (operation, _) in _bodies)
            {
                var (since, bytesThen) = operation.BodyCheckpoint;
                if (now - since < _slowBodyWindowTicks)
                {
                    continue;
                }

                var bytes = operation.BodyBytes;
                var seconds = (double)(now - since) / Stopwatch.Frequency;
                if (contended && (bytes - bytesThen) / seconds < _slowBodyBytesPerSecond && operation.TryCutOffBody())
                {
                    SlowBodiesCut.Inc();
                    Log.SlowBodyCut(_logger, operation.Route.Kind.ToString(), bytes - bytesThen, seconds);
                    continue;
                }

                operation.BodyCheckpoint = (now, bytes);
            }
        }
        catch (OutOfMemoryException)
        {
            // As in CheckPressure: the next sweep tries again.
        }
        finally
        {
            Volatile.Write(ref _sweeping, 0);
        }
    }

    private void ReleasePlace(OciOperation operation, int stage)
    {
        if (stage == PipelineMetrics.Manifest && operation.TryReleasePlace(ManifestPlace))
        {
            _manifestPlaces.Release();
        }
        else if (stage == PipelineMetrics.Blob && operation.TryReleasePlace(BlobPlace))
        {
            Interlocked.Decrement(ref _blobInUse);
            _blobPlaces.Release();
        }
        else if (stage == PipelineMetrics.Upload && operation.TryReleasePlace(UploadPlace))
        {
            Interlocked.Decrement(ref _blobInUse);
            _uploadPlaces.Release();
        }
    }

    private void ReleasePlaces(OciOperation operation)
    {
        ReleasePlace(operation, PipelineMetrics.Manifest);
        ReleasePlace(operation, PipelineMetrics.Blob);
        ReleasePlace(operation, PipelineMetrics.Upload);
    }

    /// <summary>
    /// Stops admitting and lets the operations inside finish, stage by stage, for at most five seconds
    /// (the host's grace period has drained requests already; what is left is stuck).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        // Completion is not propagated along the links: a stage reached by several links must not
        // complete while another stage can still hand it operations.
        _metrics.Dispose();
        if (_pressureTimer is not null)
        {
            await _pressureTimer.DisposeAsync();
        }

        if (_slowBodyTimer is not null)
        {
            await _slowBodyTimer.DisposeAsync();
        }

        var deadline = Task.Delay(TimeSpan.FromSeconds(5));
        IDataflowBlock[] stages = [_auth, _manifest, _blob, _upload, _assemble];
        foreach (var stage in stages)
        {
            stage.Complete();
            if (await Task.WhenAny(stage.Completion, deadline) == deadline)
            {
                return;
            }
        }
    }

    private static ExecutionDataflowBlockOptions StageOptions(int parallelism, int capacityFactor) => new()
    {
        MaxDegreeOfParallelism = parallelism,
        BoundedCapacity = parallelism * capacityFactor,
        // A slow operation must not hold back the ones behind it.
        EnsureOrdered = false,
        SingleProducerConstrained = false,
    };

    private int QueueLength(int stage) => stage switch
    {
        PipelineMetrics.Auth => _auth.InputCount + _auth.OutputCount,
        PipelineMetrics.Manifest => _manifest.InputCount + _manifest.OutputCount,
        PipelineMetrics.Blob => _blob.InputCount + _blob.OutputCount,
        PipelineMetrics.Upload => _upload.InputCount + _upload.OutputCount,
        _ => _assemble.InputCount,
    };

    private async Task<OciOperation> RunStepAsync(
        OciOperation operation,
        int stage,
        Func<EdgeContext, OciOperation, CancellationToken, Task> step)
    {
        if (!operation.TryBeginStep())
        {
            ReleasePlace(operation, stage);
            return operation;
        }

        // Restored inside this async method, the worker's own context comes back when the step yields.
        if (operation.ExecutionContext is { } requestContext)
        {
            ExecutionContext.Restore(requestContext);
        }

        var started = _metrics.StepStarted(stage);
        using var span = RegistryTracing.Source.HasListeners() ? RegistryTracing.Source.StartActivity(StageSpanNames[stage]) : null;
        var watched = stage == PipelineMetrics.Upload && _slowBodyTimer is not null;
        try
        {
            operation.Aborted.ThrowIfCancellationRequested();
            if (watched)
            {
                operation.StartWatchingBody(started);
                _bodies.TryAdd(operation, 0);
            }

            await step(_edge, operation, operation.Aborted);
        }
        catch (Exception ex)
        {
            span?.SetStatus(ActivityStatusCode.Error);
            operation.Fail(ex is OperationCanceledException && operation.BodyCutOff && !operation.ClientGone ? SlowBodyError(operation) : ex);
        }
        finally
        {
            if (watched)
            {
                _bodies.TryRemove(operation, out _);
                operation.StopWatchingBody();
            }

            _edge.MarkProgress();
            _metrics.StepFinished(stage, started);
            if (stage == PipelineMetrics.Blob)
            {
                NoteBlobStep(operation, Stopwatch.GetTimestamp() - started);
            }

            ReleasePlace(operation, stage);
            operation.EndStep();
        }

        return operation;
    }

    // Like Kestrel's own minimum-rate refusal: 408, and the connection closes after the answer (Kestrel drains what is left of the body for a few seconds at most).
    private OciException SlowBodyError(OciOperation operation)
    {
        operation.Context.Response.Headers.Connection = "close";
        return new OciException(
            OciErrorCode.BlobUploadInvalid,
            "request body too slow while other requests wait; ask for the upload's status (its Range) and continue from there",
            $"less than {_slowBodyBytesPerSecond} bytes per second",
            httpStatus: StatusCodes.Status408RequestTimeout);
    }

    private static async Task AuthorizeAsync(EdgeContext edge, OciOperation operation, CancellationToken cancellationToken)
    {
        var authorization = operation.Context.Request.Headers.Authorization.ToString();
        var scope = operation.Scope;
        var key = edge.AuthDecisions.KeyFor(authorization, scope);
        AuthorizeResponse? response;
        try
        {
            if (key is { } cacheKey && edge.AuthDecisions.TryGet(cacheKey, out var cached))
            {
                response = cached;
            }
            else
            {
                // A miss: only now is the call's request made (the client's address is formatted for it).
                var request = new AuthorizeRequest
                {
                    Authorization = authorization,
                    RemoteAddress = operation.Context.Connection.RemoteIpAddress?.ToString() ?? string.Empty,
                };
                if (scope is { } demand)
                {
                    request.Scopes.Add(demand.ToProto());
                }

                response = key is not { } missKey ? await edge.Clients.Auth.AuthorizeAsync(request, edge.Clients.Unary(cancellationToken))
                    : await edge.AuthDecisions.FetchOnceAsync(
                        missKey, async () => await edge.Clients.Auth.AuthorizeAsync(request, edge.Clients.Unary(CancellationToken.None)))
                        .WaitAsync(cancellationToken);
            }
        }
        catch (Grpc.Core.RpcException ex)
        {
            throw OciStatus.ToOciException(ex);
        }

        if (!response.Allowed)
        {
            if (response.Challenge.Length > 0)
            {
                operation.Context.Response.Headers.WWWAuthenticate = response.Challenge;
            }

            throw new OciException(response.Authenticated ? OciErrorCode.Denied : OciErrorCode.Unauthorized);
        }
    }

    private void AssembleStep(OciOperation operation)
    {
        if (!operation.TryBeginStep())
        {
            return;
        }

        var started = _metrics.StepStarted(PipelineMetrics.Assemble);
        try
        {
            operation.Assemble(_edge);
            operation.Complete();
        }
        catch (Exception ex)
        {
            operation.Fail(ex);
        }
        finally
        {
            _edge.MarkProgress();
            _metrics.StepFinished(PipelineMetrics.Assemble, started);
            operation.EndStep();
        }
    }

    private void Supervise(IDataflowBlock block, string stage) =>
        _ = block.Completion.ContinueWith(
            task => Log.StageFaulted(_logger, stage, task.Exception!),
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted,
            TaskScheduler.Default);
}
