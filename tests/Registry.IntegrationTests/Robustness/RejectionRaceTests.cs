using System.Net;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// A PATCH the blob service rejects while the edge is still streaming the body must get the service's
/// answer (404, 416), not a 500, however the rejection and the edge's next write interleave.
/// </summary>
public class RejectionRaceTests(RegistryFixture fixture) : RegistryTestBase(fixture)
{
    private const int Attempts = 40;

    [Fact]
    public async Task PatchUpload_UnknownSessionRepeatedWithLargeBodies_AlwaysReturns404BlobUploadUnknown()
    {
        var repo = OciClient.UniqueRepo("race-unknown");
        var body = OciClient.RandomBytes(512 * 1024);
        var failures = new List<string>();
        for (var i = 0; i < Attempts; i++)
        {
            using var patch = await Client.PatchAsync($"/v2/{repo}/blobs/uploads/{Guid.NewGuid()}", body, $"0-{body.Length - 1}");
            if (patch.StatusCode != HttpStatusCode.NotFound)
            {
                failures.Add($"attempt {i}: {OciAssert.Describe(patch)} {await patch.Content.ReadAsStringAsync()}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count}/{Attempts} answers were not 404:\n" + string.Join("\n", failures));
    }

    [Fact]
    public async Task PatchUpload_OutOfOrderRepeatedWithLargeBodies_AlwaysReturns416()
    {
        var repo = OciClient.UniqueRepo("race-416");
        var location = await Client.StartUploadAsync(repo);
        location = await Client.PatchAcceptedAsync(repo, location, OciClient.RandomBytes(1024), "0-1023");

        var body = OciClient.RandomBytes(512 * 1024);
        var failures = new List<string>();
        for (var i = 0; i < Attempts; i++)
        {
            using var patch = await Client.PatchAsync(location, body, $"4096-{4096 + body.Length - 1}");
            if (patch.StatusCode != HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                failures.Add($"attempt {i}: {OciAssert.Describe(patch)} {await patch.Content.ReadAsStringAsync()}");
            }
        }

        Assert.True(failures.Count == 0, $"{failures.Count}/{Attempts} answers were not 416:\n" + string.Join("\n", failures));
        using var status = await Client.GetAsync(location);
        OciAssert.HeaderEqual(status, "Range", "0-1023");
    }

    [Fact]
    public async Task PatchUpload_UnknownSession_ClientStallsMidBody_StillGets404()
    {
        // Declares 4 MiB, sends 1 MiB, then sends nothing more: the refusal must not wait for the client.
        var repo = OciClient.UniqueRepo("race-stall");
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        await socket.ConnectAsync(Client.BaseAddress.Host, Client.BaseAddress.Port);
        var head = $"PATCH /v2/{repo}/blobs/uploads/{Guid.NewGuid():N} HTTP/1.1\r\nHost: {Client.BaseAddress.Authority}\r\n"
            + "Content-Type: application/octet-stream\r\nContent-Length: 4194304\r\n\r\n";
        await socket.SendAsync(System.Text.Encoding.ASCII.GetBytes(head));
        await socket.SendAsync(OciClient.RandomBytes(1024 * 1024));

        var answer = new byte[512];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var received = await socket.ReceiveAsync(answer, System.Net.Sockets.SocketFlags.None, timeout.Token);
        var statusLine = System.Text.Encoding.ASCII.GetString(answer, 0, received).Split("\r\n")[0];
        Assert.Equal("HTTP/1.1 404 Not Found", statusLine);
    }
}

/// <summary>The same tests with upload bodies streamed over gRPC instead of written to a file the blob service names.</summary>
public sealed class RejectionRaceTestsStreamed(StreamedUploadsFixture fixture) : RejectionRaceTests(fixture), IClassFixture<StreamedUploadsFixture>;
