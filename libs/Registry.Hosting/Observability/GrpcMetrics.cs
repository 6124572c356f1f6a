using System.Collections.Concurrent;
using System.Diagnostics;
using Grpc.Core;
using Prometheus;

namespace Registry.Hosting.Observability;

/// <summary>
/// gRPC call counts and durations, by method and status code, for the server and client sides. The
/// labelled children are made once per method and code, so recording a call allocates nothing.
/// </summary>
internal sealed class GrpcMetrics
{
    /// <summary>Buckets from a fraction of a millisecond (a cached lookup over a Unix socket) to a minute (a large blob).</summary>
    public static readonly double[] DurationBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60];

    private const int CodeCount = (int)StatusCode.Unauthenticated + 1;

    private static readonly string[] CodeNames = BuildCodeNames();

    private readonly Counter _calls;
    private readonly Histogram _durations;
    private readonly ConcurrentDictionary<string, (Counter.Child Calls, Histogram.Child Duration)?[]> _children =
        new(StringComparer.Ordinal);

    private GrpcMetrics(string side)
    {
        _calls = Metrics.CreateCounter(
            $"registry_grpc_{side}_calls_total",
            $"gRPC calls finished on the {side} side, by method and status code.",
            "method", "code");
        _durations = Metrics.CreateHistogram(
            $"registry_grpc_{side}_call_duration_seconds",
            $"gRPC call duration on the {side} side, in seconds, by method and status code.",
            new HistogramConfiguration { LabelNames = ["method", "code"], Buckets = DurationBuckets });
    }

    /// <summary>Calls the services answered.</summary>
    public static GrpcMetrics Server { get; } = new("server");

    /// <summary>Calls the edge (or a service calling another) made.</summary>
    public static GrpcMetrics Client { get; } = new("client");

    /// <summary>Records one finished call that started at <paramref name="startTimestamp"/> (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public void Record(string method, StatusCode code, long startTimestamp)
    {
        var elapsed = Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds;
        var index = (uint)code < CodeCount ? (int)code : (int)StatusCode.Unknown;
        var perCode = _children.GetOrAdd(method, static _ => new (Counter.Child, Histogram.Child)?[CodeCount]);
        var child = perCode[index];
        if (child is null)
        {
            child = (_calls.WithLabels(method, CodeNames[index]), _durations.WithLabels(method, CodeNames[index]));
            perCode[index] = child;
        }

        child.Value.Calls.Inc();
        child.Value.Duration.Observe(elapsed);
    }

    /// <summary>The status code an exception from a call stands for.</summary>
    public static StatusCode CodeOf(Exception exception) => exception switch
    {
        RpcException rpc => rpc.StatusCode,
        OperationCanceledException => StatusCode.Cancelled,
        _ => StatusCode.Unknown,
    };

    private static string[] BuildCodeNames()
    {
        var names = new string[CodeCount];
        for (var i = 0; i < names.Length; i++)
        {
            names[i] = ((StatusCode)i).ToString();
        }

        return names;
    }
}
