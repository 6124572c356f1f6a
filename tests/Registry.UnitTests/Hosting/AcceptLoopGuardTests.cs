using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using NullLogger = Microsoft.Extensions.Logging.Abstractions.NullLogger;
using Registry.Hosting;

namespace Registry.UnitTests.Hosting;

public sealed class AcceptLoopGuardTests
{
    [Fact]
    public async Task AFailedAccept_IsTriedAgain_InsteadOfEndingTheLoop()
    {
        var accepted = new FakeConnection();
        var inner = new FakeFactory(new OutOfMemoryException(), new InvalidOperationException("broken once"), accepted);
        var guard = new AcceptLoopGuard(inner, NullLogger<AcceptLoopGuard>.Instance, _ => { });
        await using var listener = await guard.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));

        var connection = await listener.AcceptAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Same(accepted, connection);
        Assert.Equal(3, inner.Accepts);
    }

    [Fact]
    public async Task AnUnboundListener_StillEndsTheLoop()
    {
        var inner = new FakeFactory([null]);
        var guard = new AcceptLoopGuard(inner, NullLogger<AcceptLoopGuard>.Instance, _ => { });
        await using var listener = await guard.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));

        Assert.Null(await listener.AcceptAsync());
    }

    [Fact]
    public async Task Cancelling_StopsTheRetries()
    {
        var inner = new FakeFactory(Enumerable.Repeat<object?>(new OutOfMemoryException(), 1000).ToArray());
        var guard = new AcceptLoopGuard(inner, NullLogger<AcceptLoopGuard>.Instance, _ => { });
        await using var listener = await guard.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await listener.AcceptAsync(cancel.Token));
        Assert.InRange(inner.Accepts, 1, 50);
    }

    [Fact]
    public async Task ALoopThatStopsAsking_IsReportedLost_Once()
    {
        var inner = new FakeFactory(new FakeConnection());
        var stalls = 0;
        await using var listener = new AcceptLoopGuard.Listener(
            await inner.BindAsync(new IPEndPoint(IPAddress.Loopback, 0)), NullLogger.Instance, _ => Interlocked.Increment(ref stalls), TimeSpan.FromMilliseconds(200));

        // One connection accepted, then no further accept: what Kestrel's loop does once it has died.
        Assert.NotNull(await listener.AcceptAsync());
        for (var i = 0; i < 100 && Volatile.Read(ref stalls) == 0; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal(1, Volatile.Read(ref stalls));
        await Task.Delay(500);
        Assert.Equal(1, Volatile.Read(ref stalls));
    }

    [Fact]
    public async Task ALoopWaitingForAConnection_OrUnbound_IsNotLost()
    {
        var stalls = 0;
        var waiting = new AcceptLoopGuard.Listener(new NeverAccepts(), NullLogger.Instance, _ => Interlocked.Increment(ref stalls), TimeSpan.FromMilliseconds(100));
        using var stop = new CancellationTokenSource();
        var pending = waiting.AcceptAsync(stop.Token).AsTask();
        var unbound = new AcceptLoopGuard.Listener(new NeverAccepts(), NullLogger.Instance, _ => Interlocked.Increment(ref stalls), TimeSpan.FromMilliseconds(100));
        await unbound.UnbindAsync();

        await Task.Delay(1000);

        Assert.Equal(0, Volatile.Read(ref stalls));
        await stop.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
        await waiting.DisposeAsync();
        await unbound.DisposeAsync();
    }

    [Fact]
    public async Task WithNoDescriptorLeft_ASpinningAcceptIsStopped_AndResumedOnceOneIsFree()
    {
        var free = false;
        var spinning = new SpinsUntilCancelled();
        await using var listener = new AcceptLoopGuard.Listener(
            spinning, NullLogger.Instance, _ => { }, TimeSpan.FromMinutes(1), () => Volatile.Read(ref free));

        var accept = listener.AcceptAsync().AsTask();
        for (var i = 0; i < 200 && Volatile.Read(ref spinning.Cancelled) == 0; i++)
        {
            await Task.Delay(25);
        }

        // The guard saw no descriptor free and cancelled the spinning accept; it tries no other while none is.
        Assert.Equal(1, Volatile.Read(ref spinning.Cancelled));
        var callsWhileOut = Volatile.Read(ref spinning.Calls);
        await Task.Delay(300);
        Assert.Equal(callsWhileOut, Volatile.Read(ref spinning.Calls));
        Assert.False(accept.IsCompleted);

        // A descriptor comes free: accepting goes on, and the next connection is handed to Kestrel's loop.
        spinning.Next = new FakeConnection();
        Volatile.Write(ref free, true);
        Assert.Same(spinning.Next, await accept.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task UnbindingWhileNoDescriptorIsFree_EndsTheAccept()
    {
        // A shutdown out of descriptors: Kestrel unbinds and waits for its accept loop, which must not wait on
        // for a descriptor that may never come free.
        var spinning = new SpinsUntilCancelled();
        await using var listener = new AcceptLoopGuard.Listener(
            spinning, NullLogger.Instance, _ => { }, TimeSpan.FromMinutes(1), static () => false);

        var accept = listener.AcceptAsync().AsTask();
        for (var i = 0; i < 200 && Volatile.Read(ref spinning.Cancelled) == 0; i++)
        {
            await Task.Delay(25);
        }

        Assert.Equal(1, Volatile.Read(ref spinning.Cancelled));
        await listener.UnbindAsync();
        Assert.Null(await accept.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    // Like Kestrel's socket listener out of descriptors: accept fails and is called again at once, until
    // cancelled; once Next is set, it is returned.
    private sealed class SpinsUntilCancelled : IConnectionListener
    {
        public int Calls;
        public int Cancelled;
        public volatile ConnectionContext? Next;

        public EndPoint EndPoint { get; } = new IPEndPoint(IPAddress.Loopback, 0);

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref Calls);
            while (Next is null)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref Cancelled);
                    cancellationToken.ThrowIfCancellationRequested();
                }

                await Task.Delay(1, CancellationToken.None);
            }

            return Next;
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    private sealed class NeverAccepts : IConnectionListener
    {
        public EndPoint EndPoint { get; } = new IPEndPoint(IPAddress.Loopback, 0);

        public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return null;
        }

        public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    [Fact]
    public void EveryRegistryHost_ListensThroughTheGuard()
    {
        var builder = RegistryHost.CreateBuilder(["--urls", "http://127.0.0.1:0"]);
        using var provider = builder.Services.BuildServiceProvider();

        Assert.IsType<AcceptLoopGuard>(Assert.Single(provider.GetServices<IConnectionListenerFactory>()));
    }

    // Answers each accept with the next outcome: an exception to throw, a connection, or null (unbound).
    private sealed class FakeFactory(params object?[] outcomes) : IConnectionListenerFactory
    {
        public int Accepts;

        private object? Next() => outcomes[Math.Min(Accepts++, outcomes.Length - 1)];

        public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult<IConnectionListener>(new FakeListener(this, endpoint));

        private sealed class FakeListener(FakeFactory factory, EndPoint endpoint) : IConnectionListener
        {
            public EndPoint EndPoint => endpoint;

            public ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var outcome = factory.Next();
                return outcome is Exception ex ? throw ex : ValueTask.FromResult((ConnectionContext?)outcome);
            }

            public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }

    private sealed class FakeConnection : ConnectionContext
    {
        public override string ConnectionId { get; set; } = "fake";

        public override Microsoft.AspNetCore.Http.Features.IFeatureCollection Features { get; } = new Microsoft.AspNetCore.Http.Features.FeatureCollection();

        public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

        public override System.IO.Pipelines.IDuplexPipe Transport { get; set; } = null!;
    }
}
