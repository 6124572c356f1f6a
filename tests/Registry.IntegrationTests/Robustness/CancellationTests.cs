using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// Clients that hang up mid-download or mid-upload stop the work behind them, and the edge counts each
/// such request and how long its work took to stop (the "Registry.EdgeHttp" meter).
/// </summary>
public sealed class CancellationTests : IAsyncLifetime
{
    private readonly string _dataDir = TempDirectory.Create();
    private readonly List<double> _stopSeconds = [];
    private readonly MeterListener _listener = new();
    private Registry.EdgeHttp.RegistryInstance _registry = null!;
    private OciClient _client = null!;

    public async Task InitializeAsync()
    {
        _registry = await RegistryFixture.StartAsync(_dataDir);
        _client = new OciClient(_registry.Address);

        // Only this registry's meters: other tests run registries in the same process.
        var factory = _registry.EdgeServices.GetRequiredService<IMeterFactory>();
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Name == "registry.edge.cancellation.stop.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, value, _, _) =>
        {
            lock (_stopSeconds)
            {
                _stopSeconds.Add(value);
            }
        });
        _listener.Start();
    }

    public async Task DisposeAsync()
    {
        _listener.Dispose();
        _client.Dispose();
        await _registry.DisposeAsync();
        TempDirectory.Delete(_dataDir);
    }

    [Fact]
    public async Task AbandonedDownloadsAndUploads_AreCountedAndStopPromptly()
    {
        var repo = OciClient.UniqueRepo("cancel");
        var data = OciClient.RandomBytes(48 * 1024 * 1024);
        var digest = await _client.PushBlobAsync(repo, data);

        const int downloads = 5;
        for (var i = 0; i < downloads; i++)
        {
            // Read the headers and a little of the body, then reset the connection.
            using var socket = await ConnectAsync();
            await socket.SendAsync(Encoding.ASCII.GetBytes(
                $"GET /v2/{repo}/blobs/{digest} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
            var buffer = new byte[64 * 1024];
            var received = await socket.ReceiveAsync(buffer.AsMemory()).AsTask().WaitAsync(Timeouts.Request);
            Assert.StartsWith("HTTP/1.1 200", Encoding.ASCII.GetString(buffer, 0, Math.Min(received, 12)), StringComparison.Ordinal);
            socket.LingerState = new LingerOption(true, 0);
        }

        const int uploads = 5;
        for (var i = 0; i < uploads; i++)
        {
            // Declare 1 MiB, send a quarter of it, hang up.
            var location = await _client.StartUploadAsync(repo);
            using var socket = await ConnectAsync();
            await socket.SendAsync(Encoding.ASCII.GetBytes(
                $"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 1048576\r\n\r\n"));
            await socket.SendAsync(new byte[256 * 1024]);
            await Task.Delay(100);
            socket.LingerState = new LingerOption(true, 0);
        }

        // The registry notices each hang-up on its own schedule; wait (bounded) until all are counted.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (Count() < downloads + uploads && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        double[] stops;
        lock (_stopSeconds)
        {
            stops = [.. _stopSeconds];
        }

        Assert.Equal(downloads + uploads, stops.Length);

        // Loose bound: work that stopped at all stops in far less; a hung call would sit here for minutes.
        Assert.All(stops, seconds => Assert.InRange(seconds, 0, 10));

        using var get = await _client.GetAsync($"/v2/{repo}/blobs/{digest}");
        OciAssert.Status(get, HttpStatusCode.OK);
        Assert.Equal(data.Length, (await get.Content.ReadAsByteArrayAsync()).Length);
    }

    private int Count()
    {
        lock (_stopSeconds)
        {
            return _stopSeconds.Count;
        }
    }

    private async Task<Socket> ConnectAsync()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, _registry.Address.Port);
        return socket;
    }
}
