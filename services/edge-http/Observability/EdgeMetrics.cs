using System.Diagnostics;
using Prometheus;
using Registry.EdgeHttp.Routing;

namespace Registry.EdgeHttp.Observability;

/// <summary>
/// The edge's request metrics. Every labelled child is made once, up front, and found by array index
/// on the request path, so recording a request allocates nothing and takes no lock.
/// </summary>
internal static class EdgeMetrics
{
    /// <summary>Request durations from half a millisecond (a cached manifest) to a minute (a large blob).</summary>
    public static readonly double[] DurationBuckets =
        [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

    /// <summary>The label values of <see cref="EdgeOperation"/>, by value.</summary>
    public static readonly string[] OperationNames =
    [
        "unknown", "base", "catalog", "tags_list", "manifest_get", "manifest_head", "manifest_put", "manifest_delete",
        "blob_get", "blob_head", "blob_delete", "upload_start", "upload_status", "upload_patch", "upload_put",
        "upload_delete", "referrers",
    ];

    /// <summary>Status classes; "cancelled" is a request whose client went away before the answer.</summary>
    public static readonly string[] StatusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx", "cancelled"];

    private const int CancelledClass = 5;

    private static readonly Counter Requests = Metrics.CreateCounter(
        "registry_http_requests_total", "Client requests answered by the edge, by OCI operation and status class.",
        "operation", "status_class");

    private static readonly Histogram Durations = Metrics.CreateHistogram(
        "registry_http_request_duration_seconds",
        "Client request duration at the edge, from routing to the last body byte, by OCI operation and status class.",
        new HistogramConfiguration { LabelNames = ["operation", "status_class"], Buckets = DurationBuckets });

    private static readonly Counter BytesIn = Metrics.CreateCounter(
        "registry_http_request_bytes_total", "Body bytes the edge read from clients (blob chunks, manifests), by OCI operation.",
        "operation");

    private static readonly Counter BytesOut = Metrics.CreateCounter(
        "registry_http_response_bytes_total", "Body bytes the edge answered with (by Content-Length of answers not cut short), by OCI operation.",
        "operation");

    private static readonly Gauge InFlightGauge = Metrics.CreateGauge(
        "registry_http_requests_in_flight", "Client requests the edge is working on.");

    private static readonly Counter Pulls = Metrics.CreateCounter(
        "registry_pulls_total", "Manifests served with 200 to a GET: one per image or index pulled.");

    private static readonly Counter Pushes = Metrics.CreateCounter(
        "registry_pushes_total", "Manifests stored with 201: one per image or index pushed.");

    private static readonly Counter AdmissionRejections = Metrics.CreateCounter(
        "registry_admission_rejections_total", "Requests answered 429 because the pipeline was full (after the admission wait, if one is set).");

    private static readonly Counter MemoryRefusals = Metrics.CreateCounter(
        "registry_heap_pressure_refusals_total", "Requests answered 503 because the GC heap was near the memory it may use (registry_heap_pressure_level).");

    private static readonly Counter OutOfMemory = Metrics.CreateCounter(
        "registry_out_of_memory_total", "Requests that failed because an allocation failed (OutOfMemoryException): answered 503, or cut off if their answer had started.");

    private static readonly Counter.Child[] RequestChildren = new Counter.Child[OperationNames.Length * StatusClasses.Length];
    private static readonly Histogram.Child[] DurationChildren = new Histogram.Child[OperationNames.Length * StatusClasses.Length];
    private static readonly Counter.Child[] BytesInChildren = new Counter.Child[OperationNames.Length];
    private static readonly Counter.Child[] BytesOutChildren = new Counter.Child[OperationNames.Length];

    static EdgeMetrics()
    {
        for (var op = 0; op < OperationNames.Length; op++)
        {
            BytesInChildren[op] = BytesIn.WithLabels(OperationNames[op]);
            BytesOutChildren[op] = BytesOut.WithLabels(OperationNames[op]);
            for (var status = 0; status < StatusClasses.Length; status++)
            {
                RequestChildren[(op * StatusClasses.Length) + status] = Requests.WithLabels(OperationNames[op], StatusClasses[status]);
                DurationChildren[(op * StatusClasses.Length) + status] = Durations.WithLabels(OperationNames[op], StatusClasses[status]);
            }
        }
    }

    /// <summary>The operation label for a parsed route and a method.</summary>
    public static EdgeOperation Classify(in OciRoute route, string method)
    {
        var head = HttpMethods.IsHead(method);
        return route.Kind switch
        {
            OciRouteKind.Base => EdgeOperation.Base,
            OciRouteKind.Catalog => EdgeOperation.Catalog,
            OciRouteKind.TagList => EdgeOperation.TagList,
            OciRouteKind.Referrers => EdgeOperation.Referrers,
            OciRouteKind.Manifest when head => EdgeOperation.ManifestHead,
            OciRouteKind.Manifest when HttpMethods.IsGet(method) => EdgeOperation.ManifestGet,
            OciRouteKind.Manifest when HttpMethods.IsPut(method) => EdgeOperation.ManifestPut,
            OciRouteKind.Manifest when HttpMethods.IsDelete(method) => EdgeOperation.ManifestDelete,
            OciRouteKind.Blob when head => EdgeOperation.BlobHead,
            OciRouteKind.Blob when HttpMethods.IsGet(method) => EdgeOperation.BlobGet,
            OciRouteKind.Blob when HttpMethods.IsDelete(method) => EdgeOperation.BlobDelete,
            OciRouteKind.UploadStart => EdgeOperation.UploadStart,
            OciRouteKind.Upload when HttpMethods.IsGet(method) => EdgeOperation.UploadStatus,
            OciRouteKind.Upload when HttpMethods.IsPatch(method) => EdgeOperation.UploadPatch,
            OciRouteKind.Upload when HttpMethods.IsPut(method) => EdgeOperation.UploadPut,
            OciRouteKind.Upload when HttpMethods.IsDelete(method) => EdgeOperation.UploadDelete,
            _ => EdgeOperation.Unknown,
        };
    }

    /// <summary>Marks a request as started; returns the timestamp <see cref="RequestFinished"/> takes.</summary>
    public static long RequestStarted()
    {
        InFlightGauge.Inc();
        return Stopwatch.GetTimestamp();
    }

    /// <summary>Records a finished request (count, duration, bytes out, pulls and pushes); returns its duration in seconds.</summary>
    public static double RequestFinished(EdgeOperation operation, HttpContext context, long startTimestamp, bool clientGone)
    {
        InFlightGauge.Dec();
        var elapsed = Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
        var status = context.Response.StatusCode;
        var cancelled = clientGone;
        var statusClass = cancelled ? CancelledClass : Math.Clamp((status / 100) - 1, 0, CancelledClass - 1);
        var index = ((int)operation * StatusClasses.Length) + statusClass;
        RequestChildren[index].Inc();
        DurationChildren[index].Observe(elapsed);
        if (cancelled)
        {
            return elapsed;
        }

        if (context.Response.ContentLength is > 0 and var length && !HttpMethods.IsHead(context.Request.Method))
        {
            BytesOutChildren[(int)operation].Inc(length);
        }

        if (operation == EdgeOperation.ManifestGet && status == StatusCodes.Status200OK)
        {
            Pulls.Inc();
        }
        else if (operation == EdgeOperation.ManifestPut && status == StatusCodes.Status201Created)
        {
            Pushes.Inc();
        }

        return elapsed;
    }

    /// <summary>Counts body bytes read from a client.</summary>
    public static void AddBytesIn(EdgeOperation operation, long bytes)
    {
        if (bytes > 0)
        {
            BytesInChildren[(int)operation].Inc(bytes);
        }
    }

    /// <summary>Counts a request refused because the pipeline was full.</summary>
    public static void Rejected() => AdmissionRejections.Inc();

    /// <summary>Counts a request refused because of heap pressure.</summary>
    public static void RefusedShortOfMemory() => MemoryRefusals.Inc();

    /// <summary>Counts a request that met an <see cref="OutOfMemoryException"/>.</summary>
    public static void RanOutOfMemory() => OutOfMemory.Inc();
}
