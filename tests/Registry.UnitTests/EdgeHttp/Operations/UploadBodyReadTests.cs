using Microsoft.AspNetCore.Http;
using Registry.EdgeHttp;
using Registry.EdgeHttp.Operations;
using Registry.EdgeHttp.Pipeline;
using Registry.EdgeHttp.Routing;
using Registry.Protos;

namespace Registry.UnitTests.EdgeHttp.Operations;

/// <summary>How a failed body read is told apart (the client left or its connection was cut, or the caller stopped it), and when a body may be cut off.</summary>
public sealed class UploadBodyReadTests
{
    [Fact]
    public async Task ACancelledRead_TheCallerDidNotAskFor_MeansTheConnectionWentAway()
    {
        // Kestrel ends a read with TaskCanceledException when the server aborts the connection at the end
        // of the shutdown grace period, sometimes before it raises RequestAborted.
        var operation = new BodyOperation();
        await Assert.ThrowsAsync<TaskCanceledException>(async () => await UploadBody.ReadGuardedAsync<int, int>(
            operation, static (_, _) => ValueTask.FromException<int>(new TaskCanceledException("The request was aborted")), 0, CancellationToken.None));
        Assert.True(operation.ClientGone);
        Assert.NotEqual(0, operation.AbortedAt);
    }

    [Fact]
    public async Task AReadTheCallerCancelled_DoesNotMarkTheClientGone()
    {
        var operation = new BodyOperation();
        using var stop = new CancellationTokenSource();
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await UploadBody.ReadGuardedAsync<int, int>(
            operation, static (_, ct) => ValueTask.FromCanceled<int>(ct), 0, stop.Token));
        Assert.False(operation.ClientGone);
    }

    [Fact]
    public void ABodyReadToItsEnd_CannotBeCutOff_WhileItsStepWaitsForTheService()
    {
        var watched = new BodyOperation();
        watched.StartWatchingBody(0);
        Assert.True(watched.TryCutOffBody());
        Assert.True(watched.BodyCutOff);
        Assert.False(watched.TryCutOffBody());

        var received = new BodyOperation();
        received.StartWatchingBody(0);
        received.StopWatchingBody();
        Assert.False(received.TryCutOffBody());
        Assert.False(received.BodyCutOff);
    }

    private sealed class BodyOperation() : OciOperation(new DefaultHttpContext(), new OciRoute(OciRouteKind.Upload, "a/b", "0123"))
    {
        public override ScopeDemand? Scope => null;

        public override void Assemble(EdgeContext edge)
        {
        }
    }
}
