namespace Registry.IntegrationTests.Support;

/// <summary>
/// A non-seekable stream that serves a prefix of the given bytes and then fails, the way a client whose
/// connection breaks mid-upload does: HttpClient aborts the request without finishing the body. With
/// <c>failAfter</c> at the data length it never fails and is simply a body of unknown length.
/// </summary>
public sealed class FailingStream : Stream
{
    private readonly byte[] _data;
    private readonly int _failAfter;
    private int _position;

    public FailingStream(byte[] data, int failAfter)
    {
        _data = data;
        _failAfter = failAfter;
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (_position >= _data.Length)
        {
            return 0;
        }

        if (_position >= _failAfter)
        {
            throw new IOException("simulated client failure");
        }

        var count = Math.Min(buffer.Length, _failAfter - _position);
        _data.AsSpan(_position, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
