using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Registry.Hosting;

namespace Registry.UnitTests.Hosting;

public sealed class AcceptLoopGuardTests
{
    [Fact]
    public async Task AFailedAccept_IsTriedAgain_InsteadOfEndingTheLoop()
    {
        var accepted = new FakeConnection();
        var inner = new FakeFactory(new OutOfMemoryException(), new InvalidOperationException("broken once"), accepted);
        var guard = new AcceptLoopGuard(inner, NullLogger<AcceptLoopGuard>.Instance);
        await using var listener = await guard.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));

        var connection = await listener.AcceptAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Same(accepted, connection);
        Assert.Equal(3, inner.Accepts);
    }

    [Fact]
    public async Task AnUnboundListener_StillEndsTheLoop()
    {
        var inner = new FakeFactory([null]);
        var guard = new AcceptLoopGuard(inner, NullLogger<AcceptLoopGuard>.Instance);
        await using var listener = await guard.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));

        Assert.Null(await listener.AcceptAsync());
    }

    [Fact]
    public async Task Cancelling_StopsTheRetries()
    {
        var inner = new FakeFactory(Enumerable.Repeat<object?>(new OutOfMemoryException(), 1000).ToArray());
        var guard = new AcceptLoopGuard(inner, NullLogger<AcceptLoopGuard>.Instance);
        await using var listener = await guard.BindAsync(new IPEndPoint(IPAddress.Loopback, 0));
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await listener.AcceptAsync(cancel.Token));
        Assert.InRange(inner.Accepts, 1, 50);
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
