using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Restart;

/// <summary>A registry stopped in the middle of an upload loses nothing it acknowledged and keeps the session usable.</summary>
public sealed class ShutdownTests
{
    [Fact]
    public async Task Dispose_DuringStreamedPatch_SessionIsConsistentAfterRestart()
    {
        const long length = 8L * 1024 * 1024;
        var dataDir = TempDirectory.Create();
        try
        {
            var repo = OciClient.UniqueRepo("shutdown");
            string location;
            var first = await RegistryFixture.StartAsync(dataDir);
            var stopped = false;
            try
            {
                using var client = new OciClient(first.Address);
                location = await client.StartUploadAsync(repo);
                var content = new StreamContent(new SlowStream(new PatternStream(length), TimeSpan.FromMilliseconds(10)), 64 * 1024);
                content.Headers.ContentType = new MediaTypeHeaderValue(OciClient.OctetStream);
                var patch = client.SendAsync(HttpMethod.Patch, location, content);
                await Task.Delay(300);
                stopped = true;
                await first.DisposeAsync().AsTask().WaitAsync(Timeouts.Start);
                try
                {
                    using var response = await patch.WaitAsync(Timeouts.Request);
                }
                catch (HttpRequestException)
                {
                    // The connection may be cut; what matters is the state after restart.
                }
                catch (TaskCanceledException)
                {
                }
            }
            finally
            {
                if (!stopped)
                {
                    await first.DisposeAsync();
                }
            }

            await using var second = await RegistryFixture.StartAsync(dataDir);
            using var again = new OciClient(second.Address);
            long end;
            using (var status = await again.GetAsync(location))
            {
                OciAssert.Status(status, HttpStatusCode.NoContent);
                var range = OciAssert.Header(status, "Range");
                Assert.NotNull(range);
                Assert.StartsWith("0-", range, StringComparison.Ordinal);
                end = long.Parse(range[2..], CultureInfo.InvariantCulture);
            }

            // "0-0" is the registry's answer for an empty session too; both continue the same way here.
            var next = end == 0 ? 0 : end + 1;
            if (next < length)
            {
                var rest = new byte[length - next];
                PatternStream.Fill(rest, next);
                using var patch = await again.PatchAsync(location, rest, $"{next}-{length - 1}");
                if (patch.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable && end == 0)
                {
                    Assert.Fail("Range 0-0 after restart meant one byte was stored: " + OciAssert.Describe(patch));
                }

                OciAssert.Status(patch, HttpStatusCode.Accepted);
                location = OciAssert.Location(patch, $"/v2/{repo}/blobs/uploads/");
            }

            var digest = PatternStream.Digest(length, HashAlgorithmName.SHA256);
            using var put = await again.PutUploadAsync(location, digest);
            OciAssert.Status(put, HttpStatusCode.Created);
            using var head = await again.HeadAsync($"/v2/{repo}/blobs/{digest}");
            OciAssert.ContentLength(head, length);
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    private sealed class SlowStream(Stream inner, TimeSpan delay) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Delay(delay, cancellationToken);
            return await inner.ReadAsync(buffer, cancellationToken);
        }

        public override async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            await Task.Delay(delay, cancellationToken);
            return await inner.ReadAsync(buffer.AsMemory(offset, count), cancellationToken);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
