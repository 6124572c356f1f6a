using System.Diagnostics;
using System.Net;
using Registry.IntegrationTests.Support;
using Registry.Storage.Filesystem;
using Xunit.Abstractions;

namespace Registry.IntegrationTests.Robustness;

/// <summary>
/// A registry whose data directory fills up: every write that finds no room (the edge writing an upload
/// body, the blob service appending a chunk or starting a session, the manifest service storing a
/// manifest) answers <c>507</c> with an OCI body; what was acknowledged stays intact, an upload session
/// keeps its bytes, pulls and readiness go on, and pushes work again once space is freed. A registry
/// restarted on the full disk starts and serves pulls.
/// The data directory is a small tmpfs mounted for the test, which needs root: CI runs as root and
/// fails the test when it cannot mount; elsewhere a user without root sees it pass with a note.
/// </summary>
public sealed class FullDiskTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const HttpStatusCode InsufficientStorage = (HttpStatusCode)507;
    private const int Kib = 1024;

    private readonly string _folder = TempDirectory.Create();
    private string _disk = string.Empty;
    private OwnDisk? _mounted;
    private Registry.EdgeHttp.RegistryInstance? _registry;
    private OciClient _client = null!;

    public async Task InitializeAsync()
    {
        _disk = Path.Combine(_folder, "disk");
        Directory.CreateDirectory(_disk);
        _mounted = OwnDisk.TryMount(_disk, sizeMiB: 32, out var why);
        if (_mounted is null)
        {
            Assert.False(
                string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase),
                "CI must run the full-disk test, but a tmpfs could not be mounted: " + why);
            output.WriteLine("Not run: a tmpfs could not be mounted here (needs root): " + why);
            return;
        }

    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_registry is not null)
        {
            await _registry.DisposeAsync();
        }

        _mounted?.Dispose();
        TempDirectory.Delete(_folder);
    }

    /// <param name="directUploadWrites">
    /// Whether the edge writes upload bodies into the session's folder itself (the default) or streams them
    /// over gRPC to the blob service, which writes them (then the service answers before the body has all
    /// arrived).
    /// </param>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task AFullDisk_Answers507_LosesNothing_KeepsPulling_AndRecovers(bool directUploadWrites)
    {
        if (_mounted is null)
        {
            return;
        }

        var data = Path.Combine(_disk, "data");
        Directory.CreateDirectory(data);
        _registry = await RegistryFixture.StartAsync(data, $"--Registry:Edge:DirectUploadWrites={directUploadWrites}");
        _client = new OciClient(_registry.Address);

        var before = (await MetricsScrape.TakeAsync(_client.Http)).Value("registry_storage_full_total");
        var uncached = UncachedFile.Available;
        var repo = OciClient.UniqueRepo("full");
        var image = await _client.PushImageAsync(repo, "before", new ImageShape { Layer = OciClient.RandomBytes(100 * Kib) });
        var first = OciClient.RandomBytes(256 * Kib);
        var second = OciClient.RandomBytes(256 * Kib);
        var chunked = await _client.StartUploadAsync(repo);
        chunked = await _client.PatchAcceptedAsync(repo, chunked, first, $"0-{first.Length - 1}");
        var whole = OciClient.RandomBytes(1024 * Kib);
        var monolithic = await _client.StartUploadAsync(repo);
        var closing = OciClient.RandomBytes(128 * Kib);
        var refusedClose = await _client.StartUploadAsync(repo);
        refusedClose = await _client.PatchAcceptedAsync(repo, refusedClose, closing, $"0-{closing.Length - 1}");
        var known = OciClient.RandomBytes(100);
        var other = OciClient.UniqueRepo("full-other");
        await _client.PushBlobAsync(other, known);
        var ofKnown = await _client.StartUploadAsync(repo);
        ofKnown = await _client.PatchAcceptedAsync(repo, ofKnown, known[..50], "0-49");
        var abandoned = await _client.StartUploadAsync(repo);
        abandoned = await _client.PatchAcceptedAsync(repo, abandoned, OciClient.RandomBytes(128 * Kib), $"0-{128 * Kib - 1}");
        var manifest = ManifestJson.Image(
            ManifestJson.Descriptor(ManifestJson.EmptyMediaType, Digests.Sha256(ManifestJson.EmptyConfig), ManifestJson.EmptyConfig.Length),
            [ManifestJson.Descriptor(ManifestJson.LayerMediaType, image.LayerDigest, image.Layer.Length)],
            annotations: "{\"test\":\"after\"}");
        var refused = 0;

        // No room at all: the edge's own writes (a whole blob, a later chunk) and the services' (a new session, a manifest).
        _mounted.Fill(leaveBytes: 0);
        using (var response = await _client.PutUploadAsync(monolithic, Digests.Sha256(whole), whole))
        {
            await AssertFullAsync(response);
            refused++;
        }

        using (var response = await _client.PatchAsync(chunked, second, $"{first.Length}-{first.Length + second.Length - 1}"))
        {
            await AssertFullAsync(response);
            refused++;
        }

        using (var response = await _client.PostUploadAsync(repo))
        {
            await AssertFullAsync(response);
            refused++;
        }

        using (var response = await _client.PutManifestAsync(repo, "after", manifest, ManifestJson.OciManifest))
        {
            await AssertFullAsync(response);
            refused++;
        }

        // A closing PUT whose record is refused: the bytes go back to the session, none stay in the blobs' folder.
        using (var response = await _client.PutUploadAsync(refusedClose, Digests.Sha256(closing)))
        {
            await AssertFullAsync(response);
            refused++;
        }

        await AssertSessionHoldsAsync(refusedClose, closing.Length);
        Assert.False(File.Exists(BlobFile(Digests.Sha256(closing))), "a refused commit left its blob file");

        // Room for a closing PUT's last bytes (a page) but not for the record, of a blob another repository
        // has already: the session keeps what it had (its copy is deleted only once the record is written).
        // Before any cancellation: that checkpoints SQLite's log, whose space later records could reuse.
        _mounted.Empty();
        _mounted.Fill(leaveBytes: 8 * Kib);
        using (var response = await _client.PutUploadAsync(ofKnown, Digests.Sha256(known), known[50..], "50-99"))
        {
            await AssertFullAsync(response);
            refused++;
        }

        await AssertSessionHoldsAsync(ofKnown, 50);
        Assert.Equal(known, await _client.Http.GetByteArrayAsync($"/v2/{other}/blobs/{Digests.Sha256(known)}"));
        _mounted.Fill(leaveBytes: 0);

        // Cancelling an upload frees its bytes, so it must work on a full disk.
        using (var response = await _client.DeleteAsync(abandoned))
        {
            OciAssert.Status(response, HttpStatusCode.NoContent);
        }

        using (var response = await _client.GetAsync(abandoned))
        {
            await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "BLOB_UPLOAD_UNKNOWN");
        }

        // Reads of what is not there still say so (the manifest database was opened at start, not now).
        using (var response = await _client.GetAsync($"/v2/{OciClient.UniqueRepo("full-none")}/tags/list"))
        {
            await OciAssert.ErrorAsync(response, HttpStatusCode.NotFound, "NAME_UNKNOWN");
        }

        // Pulls, session state and readiness are untouched.
        await AssertPullableAsync(repo, image);
        await AssertSessionHoldsAsync(chunked, first.Length);
        using (var ready = await _client.GetAsync("/healthz/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        // The blob service's own write fails: written by the edge, the chunk's file fits but appending it
        // to the session's data does not; streamed, the chunk itself does not fit.
        _mounted.Empty();
        _mounted.Fill(leaveBytes: directUploadWrites ? 384 * Kib : 128 * Kib);
        using (var response = await _client.PatchAsync(chunked, second, $"{first.Length}-{first.Length + second.Length - 1}"))
        {
            await AssertFullAsync(response);
            refused++;
        }

        await AssertSessionHoldsAsync(chunked, first.Length);

        // Space again: everything refused goes through, and the chunked blob is exactly its two chunks.
        _mounted.Empty();
        chunked = await _client.PatchAcceptedAsync(repo, chunked, second, $"{first.Length}-{first.Length + second.Length - 1}");
        var joined = first.Concat(second).ToArray();
        using (var response = await _client.PutUploadAsync(chunked, Digests.Sha256(joined)))
        {
            OciAssert.Status(response, HttpStatusCode.Created);
        }

        using (var response = await _client.PutUploadAsync(monolithic, Digests.Sha256(whole), whole))
        {
            OciAssert.Status(response, HttpStatusCode.Created);
        }

        using (var response = await _client.PutManifestAsync(repo, "after", manifest, ManifestJson.OciManifest))
        {
            OciAssert.Status(response, HttpStatusCode.Created);
        }

        var more = OciClient.RandomBytes(4 * Kib);
        refusedClose = await _client.PatchAcceptedAsync(repo, refusedClose, more, $"{closing.Length}-{closing.Length + more.Length - 1}");
        var closed = closing.Concat(more).ToArray();
        using (var response = await _client.PutUploadAsync(refusedClose, Digests.Sha256(closed)))
        {
            OciAssert.Status(response, HttpStatusCode.Created);
        }

        Assert.Equal(closed, await _client.Http.GetByteArrayAsync($"/v2/{repo}/blobs/{Digests.Sha256(closed)}"));
        using (var response = await _client.PutUploadAsync(ofKnown, Digests.Sha256(known), known[50..], "50-99"))
        {
            OciAssert.Status(response, HttpStatusCode.Created);
        }

        Assert.Equal(known, await _client.Http.GetByteArrayAsync($"/v2/{repo}/blobs/{Digests.Sha256(known)}"));
        Assert.Equal(joined, await _client.Http.GetByteArrayAsync($"/v2/{repo}/blobs/{Digests.Sha256(joined)}"));
        Assert.Equal(whole, await _client.Http.GetByteArrayAsync($"/v2/{repo}/blobs/{Digests.Sha256(whole)}"));
        await AssertPullableAsync(repo, image);

        // The refused bodies left no chunk files behind, and each refusal was counted.
        var uploads = Path.Combine(_disk, "data", "docker", "registry", "v2", "_uploads");
        var leftovers = Directory.Exists(uploads) ? Directory.GetFiles(uploads, "chunk-*", SearchOption.AllDirectories) : [];
        Assert.Empty(leftovers);
        var after = (await MetricsScrape.TakeAsync(_client.Http)).Value("registry_storage_full_total");
        Assert.True(after - before >= refused, $"registry_storage_full_total rose by {after - before}, {refused} refusals");

        // A full disk is no reason to stop writing first chunks past the page cache (O_DIRECT) for good.
        Assert.Equal(uncached, UncachedFile.Available);
    }

    [Fact]
    public async Task ARegistryRestartedOnAFullDisk_StartsAndServesPulls()
    {
        if (_mounted is null)
        {
            return;
        }

        var data = Path.Combine(_disk, "data");
        Directory.CreateDirectory(data);
        _registry = await RegistryFixture.StartAsync(data);
        _client = new OciClient(_registry.Address);
        var repo = OciClient.UniqueRepo("restart-full");
        var image = await _client.PushImageAsync(repo, "before");
        _client.Dispose();
        await _registry.DisposeAsync();
        _registry = null;

        // As after the process ended: SQLite's files are closed (the pool would keep them open in this process).
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var metadata = Path.Combine(data, "metadata");
        Assert.NotEmpty(Directory.GetFiles(metadata, "*.reserve"));
        _mounted.Fill(leaveBytes: 0);

        // SQLite needs new space to open a database at all; the reserve beside it makes that room.
        _registry = await RegistryFixture.StartAsync(data);
        _client = new OciClient(_registry.Address);
        await AssertPullableAsync(repo, image);
        using (var ready = await _client.GetAsync("/healthz/ready"))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        // Again, now that one reserve is gone: the other database's makes the room.
        _client.Dispose();
        await _registry.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Assert.Single(Directory.GetFiles(metadata, "*.reserve"));
        _mounted.Fill(leaveBytes: 0);
        _registry = await RegistryFixture.StartAsync(data);
        _client = new OciClient(_registry.Address);
        Assert.Empty(Directory.GetFiles(metadata, "*.reserve"));
        await AssertPullableAsync(repo, image);

        // With room again the reserves come back at the next start.
        _mounted.Empty();
        _client.Dispose();
        await _registry.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        _registry = await RegistryFixture.StartAsync(data);
        _client = new OciClient(_registry.Address);
        Assert.Equal(2, Directory.GetFiles(metadata, "*.reserve").Length);
        await _client.PushImageAsync(repo, "after");
        await AssertPullableAsync(repo, image);
    }

    private string BlobFile(string digest) =>
        Path.Combine(_disk, "data", "docker", "registry", "v2", "blobs", "sha256", digest[7..9], digest[7..], "data");

    private static async Task AssertFullAsync(HttpResponseMessage response)
    {
        await OciAssert.ErrorAsync(response, InsufficientStorage, "UNKNOWN");
        Assert.Contains("storage is full", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private async Task AssertPullableAsync(string repo, PushedManifest image)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/v2/{repo}/manifests/before");
        request.Headers.Accept.ParseAdd(ManifestJson.OciManifest);
        using var response = await _client.Http.SendAsync(request);
        OciAssert.Status(response, HttpStatusCode.OK);
        Assert.Equal(image.Body, await response.Content.ReadAsByteArrayAsync());
        Assert.Equal(image.Layer, await _client.Http.GetByteArrayAsync($"/v2/{repo}/blobs/{image.LayerDigest}"));
    }

    private async Task AssertSessionHoldsAsync(string location, int bytes)
    {
        using var response = await _client.GetAsync(location);
        OciAssert.Status(response, HttpStatusCode.NoContent);
        Assert.Equal($"0-{bytes - 1}", string.Join(",", response.Headers.GetValues("Range")));
    }

    /// <summary>A tmpfs of a fixed size mounted on a folder, filled and emptied on demand, unmounted on dispose.</summary>
    private sealed class OwnDisk : IDisposable
    {
        private readonly string _path;
        private readonly string _filler;

        private OwnDisk(string path)
        {
            _path = path;
            _filler = Path.Combine(path, "filler");
        }

        public static OwnDisk? TryMount(string path, int sizeMiB, out string why)
        {
            if (!OperatingSystem.IsLinux())
            {
                why = "not Linux";
                return null;
            }

            why = Run("mount", "-t", "tmpfs", "-o", $"size={sizeMiB}m", "tmpfs", path);
            return why.Length == 0 ? new OwnDisk(path) : null;
        }

        /// <summary>Fills the disk with one file until at most <paramref name="leaveBytes"/> are left.</summary>
        public void Fill(long leaveBytes)
        {
            var buffer = new byte[16 * Kib];
            using var stream = new FileStream(_filler, FileMode.Append, FileAccess.Write, FileShare.None, bufferSize: 0);
            for (var room = Available() - leaveBytes; room > 0; room -= buffer.Length)
            {
                try
                {
                    stream.Write(buffer, 0, (int)Math.Min(buffer.Length, room));
                }
                catch (IOException)
                {
                    // Full before the count said so (metadata took some pages).
                    break;
                }
            }
        }

        /// <summary>Removes what <see cref="Fill"/> wrote.</summary>
        public void Empty() => File.Delete(_filler);

        public void Dispose()
        {
            // Lazily, should a file of the stopped registry still be closing.
            Run("umount", "-l", _path);
        }

        private long Available() => new DriveInfo(_path).AvailableFreeSpace;

        // Runs a command for at most 10 s; the empty string on success, else what went wrong.
        private static string Run(string file, params string[] arguments)
        {
            try
            {
                using var process = Process.Start(new ProcessStartInfo(file, arguments)
                {
                    RedirectStandardError = true,
                    RedirectStandardOutput = true,
                    UseShellExecute = false,
                })!;
                if (!process.WaitForExit(10_000))
                {
                    process.Kill();
                    return file + " did not finish within 10 s";
                }

                return process.ExitCode == 0 ? string.Empty : $"{file} exited {process.ExitCode}: {process.StandardError.ReadToEnd().Trim()}";
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                return $"{file} could not be started: {ex.Message}";
            }
        }
    }
}
