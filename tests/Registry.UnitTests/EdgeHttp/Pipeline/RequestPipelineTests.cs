using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Registry.EdgeHttp;
using Registry.EdgeHttp.Caching;
using Registry.EdgeHttp.Clients;
using Registry.EdgeHttp.Http;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Hosting;
using Registry.Protos;

namespace Registry.UnitTests.EdgeHttp.Pipeline;

public sealed class RequestPipelineTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    private readonly IOptions<EdgeOptions> _options = Options.Create(new EdgeOptions
    {
        // One running and one queued operation per control stage; two running uploads (an upload stage
        // queues nothing), four blob places.
        // The pressure checks are off: a busy test machine must not hold the stages back; tests that need the limit drive it.
        Pipeline = new PipelineOptions
        {
            ControlParallelism = 1, BlobParallelism = 2, CapacityFactor = 2, PressureDelayMilliseconds = 0, CongestedStepMilliseconds = 0,
        },
    });

    private EdgeContext _edge = null!;
    private RequestPipeline _pipeline = null!;

    public Task InitializeAsync()
    {
        // No service answers at these addresses: the auth decision comes from the cache, so the
        // pipeline is exercised alone.
        var addresses = Options.Create(new ServiceAddresses { Auth = "http://127.0.0.1:9", Manifest = "http://127.0.0.1:9", Blob = "http://127.0.0.1:9" });
        var clients = new ServiceClients(addresses, _options, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance);
        var authDecisions = new AuthDecisionCache(_options, TimeProvider.System);
        authDecisions.Set(authDecisions.KeyFor(string.Empty, null)!.Value, new AuthorizeResponse { Allowed = true });
        _edge = new EdgeContext(clients, new Locations(_options), new ManifestReader(clients, new ManifestCache(_options), _options), authDecisions, _options);
        _pipeline = new RequestPipeline(_edge, _options, NullLogger<RequestPipeline>.Instance);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _pipeline.DisposeAsync();

    [Fact]
    public async Task IsStalled_OnlyWhileRequestsQueueBehindStepsThatNeverFinish()
    {
        var limit = TimeSpan.FromMilliseconds(200);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // One stuck operation holds the manifest stage: nothing queues, so a long step alone is no stall.
        var first = new BlockingOperation(gate.Task);
        Assert.True(_pipeline.TryEnter(first));
        await Task.Delay(limit * 3);
        Assert.False(_pipeline.IsStalled(limit));

        // A second one queues behind it and no step finishes: wedged.
        var second = new BlockingOperation(gate.Task);
        Assert.True(_pipeline.TryEnter(second));
        Assert.True(await BecomesStalledAsync(limit));

        gate.SetResult();
        await Task.WhenAll(first.Completion, second.Completion).WaitAsync(Bound);
        Assert.False(_pipeline.IsStalled(limit));
    }

    [Fact]
    public async Task IsStalled_NotWhileTheStuckStepStillMovesBytes()
    {
        var limit = TimeSpan.FromSeconds(1);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // A long upload holds the stage and a request queues behind it, but body bytes keep arriving.
        var upload = new BlockingOperation(gate.Task);
        Assert.True(_pipeline.TryEnter(upload));
        await Task.Delay(100);
        var queued = new BlockingOperation(gate.Task);
        Assert.True(_pipeline.TryEnter(queued));
        for (var i = 0; i < 15; i++)
        {
            _edge.MarkProgress();
            await Task.Delay(50);
            Assert.False(_pipeline.IsStalled(limit), $"check {i}");
        }

        // The bytes stop: now it is a wedge.
        Assert.True(await BecomesStalledAsync(limit));
        gate.SetResult();
        await Task.WhenAll(upload.Completion, queued.Completion).WaitAsync(Bound);
    }

    [Fact]
    public async Task TryEnter_StagesFull_RefusesAtOnceAndAdmitsAgainOnceTheyDrain()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var admitted = new List<BlockingOperation>();
        BlockingOperation? refused = null;

        // Capacity one per stage: a handful fill the pipeline, the next must be refused.
        for (var i = 0; i < 10 && refused is null; i++)
        {
            var operation = new BlockingOperation(gate.Task);
            if (_pipeline.TryEnter(operation))
            {
                admitted.Add(operation);
                await Task.Delay(20);
            }
            else
            {
                refused = operation;
            }
        }

        try
        {
            Assert.True(refused is not null, $"all {admitted.Count} operations were admitted");
            Assert.InRange(admitted.Count, 1, 5);
            Assert.All(admitted, operation => Assert.False(operation.Completion.IsCompleted));
        }
        finally
        {
            gate.TrySetResult();
        }

        await Task.WhenAll(admitted.Select(operation => operation.Completion)).WaitAsync(Bound);
        Assert.All(admitted, operation => Assert.True(operation.Assembled));

        var later = new BlockingOperation(Task.CompletedTask);
        Assert.True(_pipeline.TryEnter(later));
        await later.Completion.WaitAsync(Bound);
    }

    [Fact]
    public async Task TryEnterAsync_StagesFull_RefusesOnlyAfterTheAdmissionWait()
    {
        await using var pipeline = CreatePipeline(admissionWaitMilliseconds: 200);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = await FillAsync(pipeline, gate.Task);
        try
        {
            var started = System.Diagnostics.Stopwatch.StartNew();
            Assert.False(await pipeline.TryEnterAsync(new BlockingOperation(Task.CompletedTask), CancellationToken.None));

            // The wait's timer cannot fire early; the upper end is only a bound against hanging.
            Assert.InRange(started.Elapsed, TimeSpan.FromMilliseconds(190), Bound);
        }
        finally
        {
            gate.TrySetResult();
        }

        await Task.WhenAll(held.Select(operation => operation.Completion)).WaitAsync(Bound);
    }

    [Fact]
    public async Task TryEnterAsync_StagesFull_AdmitsWhenAPlaceFreesDuringTheWait()
    {
        await using var pipeline = CreatePipeline(admissionWaitMilliseconds: 60_000);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = await FillAsync(pipeline, gate.Task);

        var waiting = new BlockingOperation(Task.CompletedTask);
        var entering = pipeline.TryEnterAsync(waiting, CancellationToken.None).AsTask();
        await Task.Delay(100);
        Assert.False(entering.IsCompleted);

        gate.SetResult();
        Assert.True(await entering.WaitAsync(Bound));
        await waiting.Completion.WaitAsync(Bound);
        Assert.True(waiting.Assembled);
        await Task.WhenAll(held.Select(operation => operation.Completion)).WaitAsync(Bound);
    }

    [Fact]
    public async Task TryEnterAsync_ClientLeavesWhileWaiting_EndsTheWaitAtOnce()
    {
        await using var pipeline = CreatePipeline(admissionWaitMilliseconds: 60_000);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = await FillAsync(pipeline, gate.Task);
        using var aborted = new CancellationTokenSource();

        var entering = pipeline.TryEnterAsync(new BlockingOperation(Task.CompletedTask), aborted.Token).AsTask();
        await aborted.CancelAsync();
        Assert.False(await entering.WaitAsync(Bound));

        // The withdrawn offer left nothing behind: once the held operations finish, the stages are empty.
        gate.SetResult();
        await Task.WhenAll(held.Select(operation => operation.Completion)).WaitAsync(Bound);
        var later = new BlockingOperation(Task.CompletedTask);
        Assert.True(await pipeline.TryEnterAsync(later, CancellationToken.None));
        await later.Completion.WaitAsync(Bound);
    }

    // Polls until the pipeline reports a stall, within the bound. The answer is kept from the poll that
    // saw it: an operation moving between two stages' queues can read as "nothing waiting" for an instant.
    private async Task<bool> BecomesStalledAsync(TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (DateTime.UtcNow < deadline)
        {
            if (_pipeline.IsStalled(limit))
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }

    private RequestPipeline CreatePipeline(int admissionWaitMilliseconds) => new(
        _edge,
        Options.Create(new EdgeOptions
        {
            Pipeline = new PipelineOptions
            {
                ControlParallelism = 1, BlobParallelism = 1, CapacityFactor = 1, AdmissionWaitMilliseconds = admissionWaitMilliseconds,
            },
        }),
        NullLogger<RequestPipeline>.Instance);

    // Admits operations that wait on the gate until the first stage refuses one.
    private static async Task<List<BlockingOperation>> FillAsync(RequestPipeline pipeline, Task gate)
    {
        var held = new List<BlockingOperation>();
        for (var i = 0; i < 10; i++)
        {
            var operation = new BlockingOperation(gate);
            if (!pipeline.TryEnter(operation))
            {
                return held;
            }

            held.Add(operation);
            await Task.Delay(20);
        }

        throw new InvalidOperationException($"all {held.Count} operations were admitted");
    }

    [Fact]
    public async Task Operation_StepThrows_FailsThatOperationOnly()
    {
        var failing = new BlockingOperation(Task.FromException(new InvalidOperationException("boom")));
        var healthy = new BlockingOperation(Task.CompletedTask);

        Assert.True(_pipeline.TryEnter(failing));
        await Assert.ThrowsAsync<InvalidOperationException>(() => failing.Completion.WaitAsync(Bound));
        Assert.True(_pipeline.TryEnter(healthy));
        await healthy.Completion.WaitAsync(Bound);

        Assert.False(failing.Assembled);
        Assert.True(healthy.Assembled);
    }

    [Fact]
    public async Task Operation_ClientGoneBeforeAStage_IsCancelledWithoutRunningIt()
    {
        using var aborted = new CancellationTokenSource();
        await aborted.CancelAsync();
        var operation = new BlockingOperation(Task.CompletedTask, aborted.Token);

        Assert.True(_pipeline.TryEnter(operation));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => operation.Completion.WaitAsync(Bound));
        Assert.False(operation.ManifestStageRan);
    }

    [Fact]
    public async Task Operation_ClientGoneWhileQueuedBehindABusyStage_EndsAtOnce_AndTheStagePassesItBy()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var busy = new BlockingOperation(gate.Task);
        Assert.True(_pipeline.TryEnter(busy));
        var deadline = DateTime.UtcNow + Bound;
        while (!busy.ManifestStageRan && DateTime.UtcNow < deadline)
        {
            await Task.Delay(5);
        }

        Assert.True(busy.ManifestStageRan);

        // Queued behind the step that holds the only manifest slot, the client leaves.
        var queued = new BlockingOperation(Task.CompletedTask);
        Assert.True(_pipeline.TryEnter(queued));
        await Task.Delay(50);
        Assert.False(queued.Completion.IsCompleted);
        queued.MarkAborted();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.Completion.WaitAsync(TimeSpan.FromSeconds(1)));
        Assert.False(gate.Task.IsCompleted);

        // Once the stage frees up it passes the abandoned operation by, and serves the next one.
        gate.TrySetResult();
        await busy.Completion.WaitAsync(Bound);
        var next = new BlockingOperation(Task.CompletedTask);
        Assert.True(_pipeline.TryEnter(next));
        await next.Completion.WaitAsync(Bound);
        Assert.False(queued.ManifestStageRan);
        Assert.False(queued.Assembled);
    }

    [Fact]
    public async Task FullBlobStage_RefusesUploads_WhileManifestRequestsStillPass()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Two uploads run: the upload stage is full.
        var running = new BlockingOperation(gate.Task, blobStage: true);
        var queued = new BlockingOperation(gate.Task, blobStage: true);
        Assert.True(_pipeline.TryEnter(running));
        Assert.True(_pipeline.TryEnter(queued));
        try
        {
            // Both have left the auth stage (which holds two) for the blob stage.
            var deadline = DateTime.UtcNow + Bound;
            while ((!running.BlobStageRan || _pipeline.QueueDepths.Auth > 0) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(5);
            }

            // A third is refused at the door instead of waiting in the auth stage's output, where it would
            // hold up everything behind it.
            Assert.False(_pipeline.TryEnter(new BlockingOperation(gate.Task, blobStage: true)));
            for (var i = 0; i < 5; i++)
            {
                var manifest = new BlockingOperation(Task.CompletedTask);
                Assert.True(_pipeline.TryEnter(manifest), $"manifest request {i}");
                await manifest.Completion.WaitAsync(Bound);
                Assert.True(manifest.Assembled);
            }

            Assert.False(running.Completion.IsCompleted);
            Assert.False(queued.Completion.IsCompleted);
        }
        finally
        {
            gate.TrySetResult();
        }

        await Task.WhenAll(running.Completion, queued.Completion).WaitAsync(Bound);
        Assert.True(running.BlobStageRan && queued.BlobStageRan);
    }

    [Fact]
    public async Task SlowUploadBodies_FillingTheirStage_DoNotHoldUpBlobReads()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Two uploads whose bodies trickle in: the upload stage is full, and a third body is refused, not queued.
        var uploads = new[] { new BlockingOperation(gate.Task, blobStage: true, OciRouteKind.Upload), new BlockingOperation(gate.Task, blobStage: true, OciRouteKind.Upload) };
        Assert.True(_pipeline.TryEnter(uploads[0]));
        Assert.True(_pipeline.TryEnter(uploads[1]));
        try
        {
            Assert.False(_pipeline.TryEnter(new BlockingOperation(gate.Task, blobStage: true, OciRouteKind.Upload)));

            // Blob reads and bodyless upload steps go on beside them.
            for (var i = 0; i < 5; i++)
            {
                var read = BlockingOperation.Bodyless(Task.CompletedTask, i % 2 == 0 ? OciRouteKind.Blob : OciRouteKind.UploadStart);
                Assert.True(await EntersWithinBoundAsync(read), $"bodyless blob request {i}");
                await read.Completion.WaitAsync(Bound);
                Assert.True(read.BlobStageRan);
            }

            Assert.False(uploads[0].Completion.IsCompleted || uploads[1].Completion.IsCompleted);
        }
        finally
        {
            gate.TrySetResult();
        }

        await Task.WhenAll(uploads.Select(operation => operation.Completion)).WaitAsync(Bound);
    }

    [Fact]
    public async Task PlacesComeBack_AfterFailures_Abandonment_AndRefusals()
    {
        // Operations that fail in their step, leave before they enter or while queued, or are refused.
        for (var round = 0; round < 3; round++)
        {
            var failing = new BlockingOperation(Task.FromException(new InvalidOperationException("boom")), blobStage: true);
            Assert.True(_pipeline.TryEnter(failing));
            await Assert.ThrowsAsync<InvalidOperationException>(() => failing.Completion.WaitAsync(Bound));

            using var gone = new CancellationTokenSource();
            await gone.CancelAsync();
            var early = new BlockingOperation(Task.CompletedTask, gone.Token, blobStage: true);
            early.MarkAborted();
            Assert.True(_pipeline.TryEnter(early));
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => early.Completion.WaitAsync(Bound));

            // A place comes back as the stage lets go of the operation, a moment after its request ended.
            // The client leaves as Kestrel reports it: the abort token fires and its callback marks the
            // operation. These operations have bodies, so they run in the upload stage, two at once: the
            // abandoned one may still wait between steps or already be in its step; it ends either way.
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using var waitingGone = new CancellationTokenSource();
            var busy = new BlockingOperation(gate.Task, blobStage: true);
            var waiting = new BlockingOperation(gate.Task, waitingGone.Token, blobStage: true);
            Assert.True(await EntersWithinBoundAsync(busy));
            Assert.True(await EntersWithinBoundAsync(waiting));
            Assert.False(_pipeline.TryEnter(new BlockingOperation(gate.Task, blobStage: true)));
            await waitingGone.CancelAsync();
            waiting.MarkAborted();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting.Completion.WaitAsync(Bound));
            gate.SetResult();
            await busy.Completion.WaitAsync(Bound);
        }

        // Every place is back once the stage has passed the abandoned operation by: two fit again, not three.
        var hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var admitted = new List<BlockingOperation> { new(hold.Task, blobStage: true), new(hold.Task, blobStage: true) };
        Assert.True(await EntersWithinBoundAsync(admitted[0]));
        Assert.True(await EntersWithinBoundAsync(admitted[1]));
        Assert.False(_pipeline.TryEnter(new BlockingOperation(hold.Task, blobStage: true)));
        hold.SetResult();
        await Task.WhenAll(admitted.Select(operation => operation.Completion)).WaitAsync(Bound);
    }

    [Fact]
    public async Task HeldBackBlobStage_RefusesAtOnce_NewUploadsFirst()
    {
        // 16 blob places, a 60 s admission wait, and the pressure checks off: the test drives the limit.
        await using var pipeline = new RequestPipeline(
            _edge,
            Options.Create(new EdgeOptions
            {
                Pipeline = new PipelineOptions
                {
                    ControlParallelism = 1, BlobParallelism = 16, CapacityFactor = 1, AdmissionWaitMilliseconds = 60_000,
                    PressureDelayMilliseconds = 0, CongestedStepMilliseconds = 0,
                },
            }),
            NullLogger<RequestPipeline>.Instance);
        for (var i = 0; i < 10; i++)
        {
            pipeline.BlobLimit.Observe(pressured: true, inUse: 16);
        }

        Assert.Equal(4, pipeline.BlobLimit.Current);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var held = new List<BlockingOperation>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                held.Add(new BlockingOperation(gate.Task, blobStage: true, OciRouteKind.Upload));
                Assert.True(await pipeline.TryEnterAsync(held[^1], CancellationToken.None));
            }

            // Three of four in use: a new upload is refused at once (no 60 s wait), a blob read is not yet.
            var started = System.Diagnostics.Stopwatch.StartNew();
            Assert.False(await pipeline.TryEnterAsync(
                new BlockingOperation(gate.Task, blobStage: true, OciRouteKind.UploadStart), CancellationToken.None));
            held.Add(new BlockingOperation(gate.Task, blobStage: true, OciRouteKind.Blob));
            Assert.True(await pipeline.TryEnterAsync(held[^1], CancellationToken.None));
            Assert.False(await pipeline.TryEnterAsync(
                new BlockingOperation(gate.Task, blobStage: true, OciRouteKind.Blob), CancellationToken.None));
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"refusals took {started.Elapsed}");

            // Requests that continue an upload are held back only at twice the limit (eight here).
            for (var i = 0; i < 4; i++)
            {
                held.Add(new BlockingOperation(gate.Task, blobStage: true, OciRouteKind.Upload));
                Assert.True(await pipeline.TryEnterAsync(held[^1], CancellationToken.None), $"continuing upload {i}");
            }

            Assert.False(await pipeline.TryEnterAsync(
                new BlockingOperation(gate.Task, blobStage: true, OciRouteKind.Upload), CancellationToken.None));
        }
        finally
        {
            gate.TrySetResult();
        }

        await Task.WhenAll(held.Select(operation => operation.Completion)).WaitAsync(Bound);

        // Calm gives the places back.
        for (var i = 0; i < 100; i++)
        {
            pipeline.BlobLimit.Observe(pressured: false, inUse: 0);
        }

        Assert.False(pipeline.BlobLimit.Reduced);
        var later = new BlockingOperation(Task.CompletedTask, blobStage: true, OciRouteKind.UploadStart);
        Assert.True(await pipeline.TryEnterAsync(later, CancellationToken.None));
        await later.Completion.WaitAsync(Bound);
    }

    [Fact]
    public async Task BlobStepThatFails_AfterItsRequestEnded_LeavesThePipelineServing()
    {
        // The failing step ends its request, and the server recycles the HTTP context at once (it may,
        // once the operation is finished): the pipeline's own bookkeeping after the step must not need it.
        for (var i = 0; i < 3; i++)
        {
            var failing = new RecyclingOperation();
            Assert.True(await EntersWithinBoundAsync(failing));
            await Assert.ThrowsAsync<InvalidOperationException>(() => failing.Completion.WaitAsync(Bound));
        }

        var next = new BlockingOperation(Task.CompletedTask, blobStage: true);
        Assert.True(await EntersWithinBoundAsync(next));
        await next.Completion.WaitAsync(Bound);
        Assert.True(next.BlobStageRan);
        Assert.False(_pipeline.IsFaulted);
    }

    private sealed class RecyclingOperation() : OciOperation(NewContext(), new OciRoute(OciRouteKind.Blob, "a/b", "sha256:00"))
    {
        public override ScopeDemand? Scope => null;

        public override bool UsesBlobStage => true;

        public override Task RunBlobStageAsync(EdgeContext edge, CancellationToken cancellationToken)
        {
            var context = (DefaultHttpContext)Context;
            Fail(new InvalidOperationException("blob unknown"));
            context.Uninitialize();
            return Task.FromException(new InvalidOperationException("blob unknown"));
        }

        public override void Assemble(EdgeContext edge)
        {
        }

        private static DefaultHttpContext NewContext()
        {
            var context = new DefaultHttpContext();
            context.Features.Set<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>(new NoBody());
            return context;
        }

        private sealed class NoBody : Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature
        {
            public bool CanHaveBody => false;
        }
    }

    // Admits the operation, retrying while a place is still on its way back from an ended one.
    private async Task<bool> EntersWithinBoundAsync(OciOperation operation)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!_pipeline.TryEnter(operation))
        {
            if (DateTime.UtcNow > deadline)
            {
                return false;
            }

            await Task.Delay(10);
        }

        return true;
    }

    private sealed class BlockingOperation : OciOperation
    {
        private readonly Task _gate;
        private readonly bool _blobStage;

        public BlockingOperation(Task gate, CancellationToken aborted, bool blobStage = false, OciRouteKind kind = OciRouteKind.Manifest)
            : this(gate, NewContext(aborted), blobStage, kind)
        {
        }

        private BlockingOperation(Task gate, DefaultHttpContext context, bool blobStage, OciRouteKind kind)
            : base(context, new OciRoute(kind, "a/b", "latest"))
        {
            _gate = gate;
            _blobStage = blobStage;
        }

        public BlockingOperation(Task gate, bool blobStage = false, OciRouteKind kind = OciRouteKind.Manifest)
            : this(gate, CancellationToken.None, blobStage, kind)
        {
        }

        public bool ManifestStageRan { get; private set; }

        public bool BlobStageRan { get; private set; }

        public bool Assembled { get; private set; }

        public override ScopeDemand? Scope => null;

        public override bool UsesManifestStage => !_blobStage;

        public override bool UsesBlobStage => _blobStage;

        // A step waits for its gate or for its client to leave, as the real steps' calls do.
        public override async Task RunManifestStageAsync(EdgeContext edge, CancellationToken cancellationToken)
        {
            ManifestStageRan = true;
            await _gate.WaitAsync(cancellationToken);
        }

        public override async Task RunBlobStageAsync(EdgeContext edge, CancellationToken cancellationToken)
        {
            BlobStageRan = true;
            await _gate.WaitAsync(cancellationToken);
        }

        public override void Assemble(EdgeContext edge) => Assembled = true;

        /// <summary>A blob-stage operation whose request has no body (a blob read, an upload start).</summary>
        public static BlockingOperation Bodyless(Task gate, OciRouteKind kind = OciRouteKind.Blob)
        {
            var context = NewContext(CancellationToken.None);
            context.Features.Set<Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature>(new NoBody());
            return new BlockingOperation(gate, context, blobStage: true, kind);
        }

        private static DefaultHttpContext NewContext(CancellationToken aborted) => new() { RequestAborted = aborted };

        private sealed class NoBody : Microsoft.AspNetCore.Http.Features.IHttpRequestBodyDetectionFeature
        {
            public bool CanHaveBody => false;
        }
    }
}
