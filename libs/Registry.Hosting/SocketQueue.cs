using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Registry.Hosting;

/// <summary>What a socket still has to send (Linux).</summary>
public static partial class SocketQueue
{
    private const uint OutputQueue = 0x5411; // TIOCOUTQ (SIOCOUTQ): bytes in the send queue not yet acknowledged

    /// <summary>Bytes the kernel still holds to send on <paramref name="socket"/>; -1 when it cannot tell.</summary>
    public static int Unsent(Socket socket)
    {
        var added = false;
        var handle = socket.SafeHandle;
        try
        {
            handle.DangerousAddRef(ref added);
            return Ioctl((int)handle.DangerousGetHandle(), OutputQueue, out var unsent) == 0 ? unsent : -1;
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// Bytes the peer has acknowledged on <paramref name="socket"/> since it connected (TCP_INFO's
    /// tcpi_bytes_acked, Linux 4.1 and later): it grows only as the peer's application reads, once the
    /// peer's receive buffer is full. -1 when it cannot tell.
    /// </summary>
    public static long Acknowledged(Socket socket)
    {
        if (!OperatingSystem.IsLinux())
        {
            return -1;
        }

        Span<byte> info = stackalloc byte[TcpInfoLength];
        try
        {
            var length = socket.GetRawSocketOption(IpProtocolTcp, TcpInfo, info);
            return length >= BytesAckedOffset + sizeof(long)
                ? System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(info[BytesAckedOffset..])
                : -1;
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            return -1;
        }
    }

    private const int IpProtocolTcp = 6;
    private const int TcpInfo = 11;
    private const int BytesAckedOffset = 120; // after 8 one-byte fields, 24 u32 and two u64 (pacing rates)
    private const int TcpInfoLength = 232;

    [LibraryImport("libc", EntryPoint = "ioctl")]
    private static partial int Ioctl(int descriptor, uint request, out int value);
}
