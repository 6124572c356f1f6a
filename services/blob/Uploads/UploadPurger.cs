using Microsoft.Extensions.Options;
using Registry.Blob.Metadata;

namespace Registry.Blob.Uploads;

/// <summary>
/// Deletes upload sessions (and their bytes) that nobody touched for <see cref="BlobServiceOptions.UploadMaxAge"/>,
/// folders without a session, and chunk files an edge left behind in live sessions (older than an hour).
/// </summary>
internal sealed partial class UploadPurger : BackgroundService
{
    private const int BatchSize = 256;

    // A chunk file nobody wrote to for this long has no writer left (see UploadManager.DeleteAbandonedChunksAsync).
    private static readonly TimeSpan AbandonedChunkAge = TimeSpan.FromHours(1);

    private readonly UploadManager _uploads;
    private readonly BlobMetadataStore _metadata;
    private readonly BlobServiceOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger<UploadPurger> _logger;

    public UploadPurger(
        UploadManager uploads,
        BlobMetadataStore metadata,
        IOptions<BlobServiceOptions> options,
        TimeProvider time,
        ILogger<UploadPurger> logger)
    {
        _uploads = uploads;
        _metadata = metadata;
        _options = options.Value;
        _time = time;
        _logger = logger;
    }

    /// <summary>Purges every stale session once; returns how many went.</summary>
    public async Task<int> PurgeOnceAsync(CancellationToken cancellationToken)
    {
        var purged = 0;
        while (true)
        {
            var stale = _metadata.ListStaleUploads(_time.GetUtcNow() - _options.UploadMaxAge, BatchSize);
            var purgedNow = 0;
            foreach (var id in stale)
            {
                if (await _uploads.PurgeAsync(id, cancellationToken))
                {
                    purgedNow++;
                }
            }

            purged += purgedNow;

            // A full batch of sessions still being written to would come back as the next batch: stop.
            if (stale.Count < BatchSize || purgedNow == 0)
            {
                break;
            }
        }

        // The count a POST checks against the open-session cap is kept beside the table; a write that
        // failed after its change could leave it off, so it is set from the table once per pass.
        _metadata.RecountUploads();
        purged += await _uploads.DeleteOrphansAsync(cancellationToken);
        purged += await _uploads.DeleteAbandonedChunksAsync(_time.GetUtcNow() - AbandonedChunkAge, cancellationToken);
        if (purged > 0)
        {
            Log.Purged(_logger, purged);
        }

        return purged;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_options.PurgeInterval, _time);
        try
        {
            do
            {
                try
                {
                    await PurgeOnceAsync(stoppingToken);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    Log.PurgeFailed(_logger, ex);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping: also when the host never started (a port already taken), which must not read as a failure here.
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 4010, EventName = "UploadsPurged", Level = LogLevel.Information,
            Message = "Purged {Count} abandoned upload sessions")]
        public static partial void Purged(ILogger logger, int count);

        [LoggerMessage(EventId = 4011, EventName = "UploadPurgeFailed", Level = LogLevel.Error,
            Message = "Purging abandoned upload sessions failed")]
        public static partial void PurgeFailed(ILogger logger, Exception exception);

        // Next free id: 4012.
    }
}
