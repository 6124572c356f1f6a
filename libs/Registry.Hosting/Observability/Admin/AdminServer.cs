using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Registry.Hosting.Observability.Admin.GcDump;

namespace Registry.Hosting.Observability.Admin;

/// <summary>
/// On-demand diagnostics of the live process, on their own port, off by default and behind a bearer
/// token: a CPU sampling trace for N seconds (.nettrace, as dotnet-trace writes), a process dump with
/// the managed heap (as dotnet-dump writes), the heap graph alone (.gcdump, as dotnet-gcdump writes),
/// and a snapshot of the runtime counters (JSON). The process opens a diagnostics client on its own
/// pid, so nothing has to be installed beside it. One capture runs at a time; a second gets 409.
/// </summary>
internal sealed partial class AdminServer : IHostedService, IAsyncDisposable
{
    // The runtime keywords dotnet-trace's cpu-sampling profile enables (GC, loader, JIT, exceptions,
    // thread pool…), so stacks resolve to method names.
    private const long RuntimeKeywords = 0x14C14FCCBD;

    private readonly AdminOptions _options;
    private readonly ILogger<AdminServer> _logger;
    private readonly SemaphoreSlim _capture = new(1, 1);
    private readonly GcDumpCollector? _gcDumps;
    private WebApplication? _app;

    public AdminServer(IOptions<AdminOptions> options, ILogger<AdminServer> logger)
    {
        _options = options.Value;
        _logger = logger;
        // Not in a native AOT build (see WriteGcDumpAsync), where the trace reader behind it is compiled out.
        _gcDumps = RuntimeFeature.IsDynamicCodeSupported ? new GcDumpCollector(logger) : null;
    }

    /// <summary>Where the admin endpoints listen once started; null when they are off.</summary>
    public Uri? Address { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(_options.Url))
        {
            return;
        }

        // A presented token is trimmed, so one with spaces around it could never match; blanks would pad a short one.
        if (string.IsNullOrEmpty(_options.Token) || _options.Token.Length < 16 || _options.Token.Trim().Length != _options.Token.Length)
        {
            throw new InvalidOperationException(
                "Registry:Admin:Url is set, so Registry:Admin:Token must be set too (at least 16 characters, no spaces around it).");
        }

        if (_options.GcDumpTimeoutSeconds < 1)
        {
            throw new InvalidOperationException("Registry:Admin:GcDumpTimeoutSeconds must be at least 1.");
        }

        // Rooted at the binaries, not the working folder: a host watches its content root for settings
        // changes, and the working folder may hold the registry's data, whose every write it would see.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls(_options.Url);
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Use(RequireTokenAsync);
        app.MapGet("/admin/counters", WriteCountersAsync);
        app.MapGet("/admin/trace", WriteTraceAsync);
        app.MapGet("/admin/dump", WriteDumpAsync);
        app.MapGet("/admin/gcdump", WriteGcDumpAsync);
        await app.StartAsync(cancellationToken);
        _app = app;
        Address = new Uri(app.Urls.First());
        Log.Listening(_logger, Address.ToString());
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync();
        }

        _capture.Dispose();
    }

    private async Task RequireTokenAsync(HttpContext context, RequestDelegate next)
    {
        var header = context.Request.Headers.Authorization.ToString();
        const string Scheme = "Bearer ";
        var presented = header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) ? header[Scheme.Length..].Trim() : string.Empty;
        if (!CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(_options.Token)))
        {
            Log.Refused(_logger, context.Request.Path.Value ?? string.Empty);
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            return;
        }

        await next(context);
    }

    private static async Task WriteCountersAsync(HttpContext context)
    {
        var memory = GC.GetGCMemoryInfo();
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.Body, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteString("time", DateTimeOffset.UtcNow);
        json.WriteNumber("pid", Environment.ProcessId);
        json.WriteNumber("cpuCount", Environment.ProcessorCount);
        json.WriteNumber("workingSetBytes", Environment.WorkingSet);
        json.WriteBoolean("serverGc", System.Runtime.GCSettings.IsServerGC);
        json.WriteNumber("gcHeapSizeBytes", memory.HeapSizeBytes);
        json.WriteNumber("gcFragmentedBytes", memory.FragmentedBytes);
        json.WriteNumber("gcCommittedBytes", memory.TotalCommittedBytes);
        json.WriteNumber("gcHeapLimitBytes", memory.TotalAvailableMemoryBytes);
        json.WriteNumber("gcTotalAllocatedBytes", GC.GetTotalAllocatedBytes());
        json.WriteNumber("gcPauseTimeSeconds", GC.GetTotalPauseDuration().TotalSeconds);
        json.WriteNumber("gcLastPausePercent", memory.PauseTimePercentage);
        json.WriteNumber("gen0Collections", GC.CollectionCount(0));
        json.WriteNumber("gen1Collections", GC.CollectionCount(1));
        json.WriteNumber("gen2Collections", GC.CollectionCount(2));
        json.WriteNumber("threadPoolThreads", ThreadPool.ThreadCount);
        json.WriteNumber("threadPoolQueueLength", ThreadPool.PendingWorkItemCount);
        json.WriteNumber("threadPoolCompletedItems", ThreadPool.CompletedWorkItemCount);
        json.WriteNumber("lockContentions", Monitor.LockContentionCount);
        json.WriteNumber("timers", Timer.ActiveCount);
        json.WriteEndObject();
    }

    // IsDynamicCodeSupported is a constant false in a native AOT build, so the compiler drops the
    // captures that cannot work there (and, for the .gcdump, the trace reader it needs). The choice is made
    // outside the async methods: their resume points would keep every await after the check reachable.
    private static Task RefuseInNativeBuildAsync(HttpContext context, string why) =>
        WriteErrorAsync(context, StatusCodes.Status501NotImplemented, "UNSUPPORTED", why);

    // A native AOT build writes the trace, but its samples carry no stacks (checked: converted with
    // dotnet-trace, every sample was "?!?" / UNMANAGED_CODE_TIME on named threads), so it refuses.
    private Task WriteTraceAsync(HttpContext context) =>
        RuntimeFeature.IsDynamicCodeSupported
            ? WriteTraceWithRuntimeAsync(context)
            : RefuseInNativeBuildAsync(context,
                "a native AOT build's CPU samples carry no stacks; profile it with perf (publish with -p:StripSymbols=false for method names), or trace the JIT build");

    private async Task WriteTraceWithRuntimeAsync(HttpContext context)
    {
        var given = context.Request.Query["seconds"].ToString();
        var seconds = 10;
        if ((given.Length > 0 && !int.TryParse(given, NumberStyles.None, CultureInfo.InvariantCulture, out seconds))
            || seconds < 1 || seconds > _options.MaxTraceSeconds)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync($"seconds must be between 1 and {_options.MaxTraceSeconds}\n", context.RequestAborted);
            return;
        }

        if (!await _capture.WaitAsync(0, context.RequestAborted))
        {
            await WriteErrorAsync(context, StatusCodes.Status409Conflict, "TOOMANYREQUESTS", "another capture is running; try again when it ends");
            return;
        }

        try
        {
            Log.Capturing(_logger, "CPU trace", seconds);
            var client = new DiagnosticsClient(Environment.ProcessId);
            EventPipeProvider[] providers =
            [
                new("Microsoft-DotNETCore-SampleProfiler", EventLevel.Informational),
                new("Microsoft-Windows-DotNETRuntime", EventLevel.Informational, RuntimeKeywords),
            ];
            // The runtime writes the session's events into a pipe that must always be read to its end:
            // when nobody reads it, the runtime's writer blocks and with it every thread that raises an
            // event (the whole process). So the stream goes into a temporary file, whatever the client
            // does, and only the finished file is sent.
            var path = Path.Combine(Path.GetTempPath(), $"registry-{Environment.ProcessId}-{Guid.NewGuid():N}.nettrace");
            try
            {
                using (var session = await client.StartEventPipeSessionAsync(providers, requestRundown: true, circularBufferMB: 256, context.RequestAborted))
                {
                    Task drain;
                    await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous))
                    {
                        drain = session.EventStream.CopyToAsync(file, CancellationToken.None);
                        try
                        {
                            await Task.Delay(TimeSpan.FromSeconds(seconds), context.RequestAborted);
                        }
                        catch (OperationCanceledException)
                        {
                            // The client left: stop early, but still read the stream to its end below.
                        }
                        finally
                        {
                            // Stopping ends the stream (after the rundown), which ends the drain.
                            await session.StopAsync(CancellationToken.None);
                        }

                        await drain;
                    }
                }

                if (context.RequestAborted.IsCancellationRequested)
                {
                    return;
                }

                context.Response.ContentType = "application/octet-stream";
                context.Response.Headers.ContentDisposition = $"attachment; filename=\"registry-{Environment.ProcessId}-cpu.nettrace\"";
                await using var trace = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
                context.Response.ContentLength = trace.Length;
                await trace.CopyToAsync(context.Response.Body, context.RequestAborted);
            }
            finally
            {
                File.Delete(path);
            }
        }
        finally
        {
            _capture.Release();
        }
    }

    private Task WriteDumpAsync(HttpContext context) =>
        RuntimeFeature.IsDynamicCodeSupported
            ? WriteDumpWithRuntimeAsync(context)
            : RefuseInNativeBuildAsync(context,
                "a native AOT build has no createdump to write a process dump; take one with gcore, or run the JIT build");

    private async Task WriteDumpWithRuntimeAsync(HttpContext context)
    {
        if (!await _capture.WaitAsync(0, context.RequestAborted))
        {
            await WriteErrorAsync(context, StatusCodes.Status409Conflict, "TOOMANYREQUESTS", "another capture is running; try again when it ends");
            return;
        }

        var path = Path.Combine(Path.GetTempPath(), $"registry-{Environment.ProcessId}-{Guid.NewGuid():N}.dmp");
        try
        {
            Log.Capturing(_logger, "heap dump", 0);
            var client = new DiagnosticsClient(Environment.ProcessId);
            try
            {
                await client.WriteDumpAsync(DumpType.WithHeap, path, logDumpGeneration: false, context.RequestAborted);
            }
            catch (DiagnosticsClientException e)
            {
                Log.DumpFailed(_logger, e.Message);
                await WriteErrorAsync(context, StatusCodes.Status500InternalServerError, "UNKNOWN", $"the runtime could not write a dump: {e.Message}");
                return;
            }

            context.Response.ContentType = "application/octet-stream";
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"registry-{Environment.ProcessId}.dmp\"";
            await using var dump = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            context.Response.ContentLength = dump.Length;
            await dump.CopyToAsync(context.Response.Body, context.RequestAborted);
        }
        finally
        {
            File.Delete(path);
            _capture.Release();
        }
    }

    // The heap graph alone, as `dotnet-gcdump collect` writes it: the session's events go to a temporary
    // .nettrace, the graph is built from that file once the session has ended, written to a temporary
    // .gcdump, and only then sent (with its length), so a client that leaves never holds the runtime up.
    // A native AOT build walks its heap but names no types in it, which would make the graph useless.
    private Task WriteGcDumpAsync(HttpContext context) =>
        RuntimeFeature.IsDynamicCodeSupported && _gcDumps is not null
            ? WriteGcDumpWithRuntimeAsync(context, _gcDumps)
            : RefuseInNativeBuildAsync(context,
                "a native AOT build names no types in its heap walk; take a .gcdump from the JIT build");

    private async Task WriteGcDumpWithRuntimeAsync(HttpContext context, GcDumpCollector gcDumps)
    {
        if (!await _capture.WaitAsync(0, context.RequestAborted))
        {
            await WriteErrorAsync(context, StatusCodes.Status409Conflict, "TOOMANYREQUESTS", "another capture is running; try again when it ends");
            return;
        }

        var stem = Path.Combine(Path.GetTempPath(), $"registry-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var tracePath = stem + ".nettrace";
        var dumpPath = stem + ".gcdump";
        var aborted = context.RequestAborted;
        try
        {
            Log.Capturing(_logger, "GC heap dump", _options.GcDumpTimeoutSeconds);
            var started = Stopwatch.GetTimestamp();
            var recorded = await gcDumps.RecordHeapWalkAsync(tracePath, TimeSpan.FromSeconds(_options.GcDumpTimeoutSeconds), aborted);
            if (aborted.IsCancellationRequested)
            {
                return;
            }

            if (!recorded)
            {
                await WriteErrorAsync(context, StatusCodes.Status503ServiceUnavailable, "UNAVAILABLE",
                    $"the runtime did not finish a heap walk within {_options.GcDumpTimeoutSeconds} s");
                return;
            }

            var snapshot = await Task.Run(() => HeapSnapshotReader.Read(tracePath, Environment.ProcessId, aborted), aborted);
            File.Delete(tracePath);
            if (snapshot.Graph is null || snapshot.Problem is not null)
            {
                Log.GcDumpFailed(_logger, snapshot.Problem ?? "no heap walk");
                await WriteErrorAsync(context, StatusCodes.Status500InternalServerError, "UNKNOWN",
                    $"the heap walk could not be read: {snapshot.Problem ?? "no heap walk"}");
                return;
            }

            using var process = Process.GetCurrentProcess();
            var metadata = new GcDumpWriter.Metadata(
                DateTime.Now,
                Environment.MachineName,
                process.ProcessName,
                Environment.ProcessId,
                process.PrivateMemorySize64,
                Environment.WorkingSet,
                CollectionLog: null,
                CreationTool: "registry /admin/gcdump",
                Environment.Is64BitProcess);
            await Task.Run(
                () =>
                {
                    using var file = new FileStream(dumpPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                    GcDumpWriter.Write(file, snapshot.Graph, metadata);
                },
                aborted);

            await using var dump = new FileStream(dumpPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous);
            Log.GcDumpWritten(_logger, snapshot.ObjectCount, snapshot.Graph.TypeCount, snapshot.Graph.TotalSize, dump.Length,
                Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            context.Response.ContentType = "application/octet-stream";
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"registry-{Environment.ProcessId}.gcdump\"";
            context.Response.ContentLength = dump.Length;
            await dump.CopyToAsync(context.Response.Body, aborted);
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client left; the session was still stopped and read to its end.
        }
        finally
        {
            File.Delete(tracePath);
            File.Delete(dumpPath);
            _capture.Release();
        }
    }

    // Refusals carry an OCI-style error body, as the registry's own API answers.
    private static async Task WriteErrorAsync(HttpContext context, int status, string code, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await using var json = new Utf8JsonWriter(context.Response.Body);
        json.WriteStartObject();
        json.WriteStartArray("errors");
        json.WriteStartObject();
        json.WriteString("code", code);
        json.WriteString("message", message);
        json.WriteNull("detail");
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 130, EventName = "AdminListening", Level = LogLevel.Information,
            Message = "Admin endpoints listen on {Address}")]
        public static partial void Listening(ILogger logger, string address);

        [LoggerMessage(EventId = 131, EventName = "AdminRefused", Level = LogLevel.Warning,
            Message = "Admin request to {Path} refused: missing or wrong token")]
        public static partial void Refused(ILogger logger, string path);

        [LoggerMessage(EventId = 132, EventName = "AdminCapture", Level = LogLevel.Information,
            Message = "Capturing a {Kind} ({Seconds} s)")]
        public static partial void Capturing(ILogger logger, string kind, int seconds);

        [LoggerMessage(EventId = 136, EventName = "AdminGcDumpWritten", Level = LogLevel.Information,
            Message = "GC heap dump of {Objects} objects, {Types} types and {HeapBytes} heap bytes written ({FileBytes} bytes) in {ElapsedMs} ms")]
        public static partial void GcDumpWritten(ILogger logger, int objects, int types, long heapBytes, long fileBytes, double elapsedMs);

        [LoggerMessage(EventId = 137, EventName = "AdminGcDumpFailed", Level = LogLevel.Error,
            Message = "GC heap dump failed: {Problem}")]
        public static partial void GcDumpFailed(ILogger logger, string problem);

        [LoggerMessage(EventId = 138, EventName = "AdminDumpFailed", Level = LogLevel.Error,
            Message = "Process dump failed: {Problem}")]
        public static partial void DumpFailed(ILogger logger, string problem);

        // 133-135 are GcDumpCollector's. Next free id: 139 (observability uses 110-139).
    }
}
