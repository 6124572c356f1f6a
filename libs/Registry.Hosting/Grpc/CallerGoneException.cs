namespace Registry.Hosting.Grpc;

/// <summary>
/// The caller of a streaming call went away (it reset its request stream) before the stream ended: a
/// cancellation, not a failure of the service.
/// </summary>
public sealed class CallerGoneException : OperationCanceledException
{
    public CallerGoneException()
        : base("the caller reset the request stream")
    {
    }

    public CallerGoneException(string message)
        : base(message)
    {
    }

    public CallerGoneException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
