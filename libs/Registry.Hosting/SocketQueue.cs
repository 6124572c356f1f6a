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

    [LibraryImport("libc", EntryPoint = "ioctl")]
    private static partial int Ioctl(int descriptor, uint request, out int value);
}
