using System.Net.Sockets;
using Prometheus;
using Registry.Oci.Errors;

namespace Registry.Hosting;

/// <summary>
/// The process, or the whole machine, has no file descriptor to spare (EMFILE, ENFILE): a file or a
/// socket could not be opened. That is the process's own shortage, not the storage failing, and it
/// passes as connections close: the client gets <c>503 UNAVAILABLE</c> with <c>Retry-After</c> instead
/// of an internal error, and the storage breaker does not count it.
/// </summary>
public static class OutOfDescriptors
{
    private const int ProcessLimit = 24; // EMFILE on Linux
    private const int SystemLimit = 23; // ENFILE on Linux

    private static readonly Counter Refused = Metrics.CreateCounter(
        "registry_out_of_descriptors_total",
        "Requests answered 503 because the process or the machine had no file descriptor to spare (EMFILE, ENFILE).");

    /// <summary>Makes <c>registry_out_of_descriptors_total</c> appear on /metrics (at 0) before any refusal.</summary>
    public static void PublishCounter() => Refused.Publish();

    /// <summary>Whether <paramref name="exception"/>, or one it wraps, is a file or socket refused for want of a descriptor.</summary>
    public static bool Is(Exception? exception)
    {
        for (var depth = 0; exception is not null && depth < 4; depth++, exception = exception.InnerException)
        {
            switch (exception)
            {
                case IOException { HResult: ProcessLimit or SystemLimit }:
                case SocketException { SocketErrorCode: SocketError.TooManyOpenSockets }:
                    return true;
            }
        }

        return false;
    }

    /// <summary>The client's answer, counted in <c>registry_out_of_descriptors_total</c>: 503 UNAVAILABLE, retry after a second.</summary>
    public static OciException Answer()
    {
        Refused.Inc();
        return new OciException(OciErrorCode.Unavailable, "the registry has no file descriptor to spare; retry later", httpStatus: 503)
        {
            RetryAfter = TimeSpan.FromSeconds(1),
        };
    }
}
