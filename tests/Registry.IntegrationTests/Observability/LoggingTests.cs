using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Registry.IntegrationTests.Support;

namespace Registry.IntegrationTests.Observability;

/// <summary>
/// Logs: one JSON object per line, one line per request with its request and trace ids, no credential
/// a request carried in any line however verbose the levels, and levels that change without a restart.
/// </summary>
[Collection(ObservabilityCollection.Name)]
public sealed class LoggingTests
{
    private const string BearerSecret = "tok3n-d0-not-log-8f2e1c";
    private const string BasicSecret = "dXNlcjpwYXNzLWRvLW5vdC1sb2c=";
    private const string SignatureSecret = "sig-d0-not-log-77aa31";

    [Fact]
    public async Task Logs_NeverContainCredentialsTheRequestsCarried_EvenAtDebug()
    {
        var dataDir = TempDirectory.Create();
        var logFile = Path.Combine(dataDir, "registry.log");
        try
        {
            var registry = await RegistryFixture.StartAsync(
                dataDir,
                $"--Registry:Logging:File={logFile}",
                "--Serilog:MinimumLevel:Default=Debug",
                "--Serilog:MinimumLevel:Override:Microsoft.AspNetCore=Debug",
                "--Serilog:MinimumLevel:Override:Grpc=Debug",
                "--Serilog:MinimumLevel:Override:Registry=Debug");
            var repo = OciClient.UniqueRepo("logs");
            await using (registry)
            {
                using var client = new OciClient(registry.Address);
                var pushed = await client.PushImageAsync(repo, "v1");
                var query = $"?X-Amz-Signature={SignatureSecret}&token={BearerSecret}";
                string[] paths =
                [
                    $"/v2/{repo}/manifests/v1{query}",
                    $"/v2/{repo}/blobs/{pushed.LayerDigest}{query}",
                    $"/v2/{repo}/manifests/absent{query}",
                    $"/v2/{repo}/blobs/uploads/{query}",
                ];
                foreach (var path in paths)
                {
                    foreach (var auth in new[] { new AuthenticationHeaderValue("Bearer", BearerSecret), new AuthenticationHeaderValue("Basic", BasicSecret) })
                    {
                        var method = path.Contains("/uploads/", StringComparison.Ordinal) ? HttpMethod.Post : HttpMethod.Get;
                        using var response = await client.SendAsync(method, path, configure: r => r.Headers.Authorization = auth);
                        Assert.NotEqual(HttpStatusCode.InternalServerError, response.StatusCode);
                    }
                }
            }

            var text = await File.ReadAllTextAsync(logFile);
            Assert.Contains(repo, text, StringComparison.Ordinal);
            Assert.DoesNotContain(BearerSecret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(BasicSecret, text, StringComparison.Ordinal);
            Assert.DoesNotContain(SignatureSecret, text, StringComparison.Ordinal);
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    [Fact]
    public async Task EachRequest_LogsOneJsonLine_WithRequestAndTraceIds()
    {
        var dataDir = TempDirectory.Create();
        var logFile = Path.Combine(dataDir, "registry.log");
        try
        {
            var registry = await RegistryFixture.StartAsync(dataDir, $"--Registry:Logging:File={logFile}");
            var repo = OciClient.UniqueRepo("logline");
            await using (registry)
            {
                using var client = new OciClient(registry.Address);
                using var missing = await client.GetAsync($"/v2/{repo}/manifests/v9");
                Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
                using var tags = await client.GetAsync($"/v2/{repo}/tags/list");
                Assert.Equal(HttpStatusCode.NotFound, tags.StatusCode);
                using var ping = await client.GetAsync("/v2/");
                Assert.Equal(HttpStatusCode.OK, ping.StatusCode);
            }

            var lines = await JsonLinesAsync(logFile);
            var messages = lines
                .Where(root => IsRequestLine(root))
                .Select(root => root.GetProperty("@m").GetString()!)
                .ToList();
            Assert.Contains(messages, m => m.StartsWith("GET base answered 200 in ", StringComparison.Ordinal));
            Assert.Contains(messages, m => m.StartsWith($"GET tags_list {repo} answered 404 in ", StringComparison.Ordinal));
            Assert.Contains(messages, m => m.StartsWith($"GET manifest_get {repo} v9 answered 404 in ", StringComparison.Ordinal));

            Assert.All(lines, root => Assert.True(root.TryGetProperty("@t", out _), root.ToString()));
            var request = Assert.Single(lines, root => IsRequestLine(root)
                && root.TryGetProperty("Repository", out var repository) && repository.GetString() == repo
                && root.GetProperty("Operation").GetString() == "manifest_get");
            Assert.Equal("manifest_get", request.GetProperty("Operation").GetString());
            Assert.Equal("v9", request.GetProperty("Reference").GetString());
            Assert.Equal(404, request.GetProperty("StatusCode").GetInt32());
            Assert.False(string.IsNullOrEmpty(request.GetProperty("RequestId").GetString()));
            Assert.Equal(32, request.GetProperty("@tr").GetString()!.Length);
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    [Fact]
    public async Task LinesWrittenInsidePipelineSteps_CarryTheirRequestsId()
    {
        var dataDir = TempDirectory.Create();
        var logFile = Path.Combine(dataDir, "registry.log");
        try
        {
            // The gRPC client logs each call at Debug; those calls run inside the pipeline's stage steps,
            // on workers a different request may have started. One worker per stage, with room to queue
            // every request, makes that the rule rather than a chance.
            var registry = await RegistryFixture.StartAsync(
                dataDir,
                $"--Registry:Logging:File={logFile}",
                "--Registry:Edge:Pipeline:ControlParallelism=1",
                "--Registry:Edge:Pipeline:CapacityFactor=64",
                "--Serilog:MinimumLevel:Default=Debug",
                "--Serilog:MinimumLevel:Override:Grpc=Debug");
            var prefix = OciClient.UniqueRepo("steplog");
            await using (registry)
            {
                using var client = new OciClient(registry.Address);
                var requests = Enumerable.Range(0, 24).Select(async i =>
                {
                    using var missing = await client.GetAsync($"/v2/{prefix}-{i}/manifests/v9");
                    Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
                });
                await Task.WhenAll(requests);
            }

            var lines = await JsonLinesAsync(logFile);
            var requestLines = lines.Where(l => IsRequestLine(l)
                && l.TryGetProperty("Repository", out var r) && r.GetString()!.StartsWith(prefix, StringComparison.Ordinal)).ToList();
            Assert.Equal(24, requestLines.Count);
            var checkedLines = 0;
            foreach (var request in requestLines)
            {
                var trace = request.GetProperty("@tr").GetString();
                var requestId = request.GetProperty("RequestId").GetString();
                var grpcLines = lines
                    .Where(l => l.TryGetProperty("@tr", out var tr) && tr.GetString() == trace
                        && l.GetProperty("SourceContext").GetString()!.StartsWith("Grpc.Net.Client", StringComparison.Ordinal))
                    .ToList();
                Assert.NotEmpty(grpcLines);
                Assert.All(grpcLines, l => Assert.Equal(requestId, l.TryGetProperty("RequestId", out var id) ? id.GetString() : null));
                checkedLines += grpcLines.Count;
            }

            // Each request made at least its auth and manifest calls: no line was shared or lost.
            Assert.Equal(checkedLines, lines.Count(l => l.TryGetProperty("SourceContext", out var c)
                && c.GetString()!.StartsWith("Grpc.Net.Client", StringComparison.Ordinal)
                && l.TryGetProperty("@tr", out var tr)
                && requestLines.Any(r => r.GetProperty("@tr").GetString() == tr.GetString())));
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    [Fact]
    public async Task LevelsInTheConfigFile_ApplyWithoutRestart()
    {
        var dataDir = TempDirectory.Create();
        var logFile = Path.Combine(dataDir, "registry.log");
        var configFile = Path.Combine(dataDir, "registry.json");
        try
        {
            await File.WriteAllTextAsync(configFile, Levels("Information"));
            var registry = await RegistryFixture.StartAsync(dataDir, $"--Registry:Logging:File={logFile}", $"--config={configFile}");
            await using (registry)
            {
                using var client = new OciClient(registry.Address);
                var before = OciClient.UniqueRepo("level-on");
                (await client.GetAsync($"/v2/{before}/tags/list")).Dispose();

                // The line is written as the handler ends, which may be just after the client has the answer.
                var logged = false;
                for (var i = 0; i < 50 && !logged; i++)
                {
                    logged = (await ReadSharedAsync(logFile)).Contains(before, StringComparison.Ordinal);
                    if (!logged)
                    {
                        await Task.Delay(100);
                    }
                }

                Assert.True(logged, "the request line was not written at Information");

                await File.WriteAllTextAsync(configFile, Levels("Warning"));

                // The file watcher reloads within moments; poll, bounded, until a request leaves no line.
                var silent = false;
                for (var i = 0; i < 50 && !silent; i++)
                {
                    await Task.Delay(200);
                    var probe = OciClient.UniqueRepo("level-off");
                    (await client.GetAsync($"/v2/{probe}/tags/list")).Dispose();
                    await Task.Delay(200);
                    silent = !(await ReadSharedAsync(logFile)).Contains(probe, StringComparison.Ordinal);
                }

                Assert.True(silent, "request lines were still written after the level was raised to Warning");
            }
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    [Fact]
    public async Task Startup_LogsRuntimeAndSettings_WithSecretsRedacted()
    {
        var dataDir = TempDirectory.Create();
        var logFile = Path.Combine(dataDir, "registry.log");
        const string AdminToken = "startup-admin-token-d0-not-log";
        try
        {
            var registry = await RegistryFixture.StartAsync(
                dataDir, $"--Registry:Logging:File={logFile}", "--Registry:Admin:Url=http://127.0.0.1:0", $"--Registry:Admin:Token={AdminToken}");
            await registry.DisposeAsync();

            var lines = await File.ReadAllLinesAsync(logFile);
            Assert.DoesNotContain(lines, line => line.Contains(AdminToken, StringComparison.Ordinal));
            var started = lines.Select(line => JsonDocument.Parse(line).RootElement)
                .Where(root => root.TryGetProperty("EventId", out var id) && id.GetProperty("Id").GetInt32() == 110)
                .Select(root => root.Clone())
                .ToList();
            Assert.Contains(started, root => root.GetProperty("Addresses").GetString()!.Contains("127.0.0.1", StringComparison.Ordinal));
            foreach (var root in started)
            {
                Assert.Contains(root.GetProperty("GcMode").GetString(), new[] { "server", "workstation" });
                Assert.True(root.GetProperty("HeapLimitBytes").GetInt64() > 0);
                Assert.True(root.GetProperty("CpuCount").GetInt32() > 0);
            }

            // Each host of the process (the edge and its embedded services) reports its settings.
            var reports = lines.Where(line => line.Contains("\"EffectiveSettings\"", StringComparison.Ordinal)).ToList();
            Assert.NotEmpty(reports);
            foreach (var report in reports)
            {
                using var json = JsonDocument.Parse(report);
                var values = json.RootElement.GetProperty("Settings");
                Assert.Equal("***", values.GetProperty("Registry:Admin:Token").GetString());
                Assert.Equal(dataDir, values.GetProperty("Registry:DataDir").GetString());
            }
        }
        finally
        {
            TempDirectory.Delete(dataDir);
        }
    }

    private static string Levels(string requests) =>
        $$"""{ "Serilog": { "MinimumLevel": { "Override": { "Registry.Requests": "{{requests}}" } } } }""";

    private static async Task<string> ReadSharedAsync(string path)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        using var reader = new StreamReader(stream);
        return await reader.ReadToEndAsync();
    }

    /// <summary>Every line of a JSON log file, parsed.</summary>
    private static async Task<List<JsonElement>> JsonLinesAsync(string path)
    {
        var lines = new List<JsonElement>();
        foreach (var line in await File.ReadAllLinesAsync(path))
        {
            using var json = JsonDocument.Parse(line);
            lines.Add(json.RootElement.Clone());
        }

        return lines;
    }

    /// <summary>The edge's one line per request (event 1004).</summary>
    private static bool IsRequestLine(JsonElement root) =>
        root.TryGetProperty("EventId", out var id) && id.GetProperty("Id").GetInt32() == 1004;
}
