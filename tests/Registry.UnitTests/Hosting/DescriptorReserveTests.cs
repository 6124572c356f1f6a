using Registry.Hosting;

namespace Registry.UnitTests.Hosting;

public sealed class DescriptorReserveTests
{
    [Fact]
    public void OutOfDescriptors_TheReserveIsGivenBack_AndAcceptsWaitUntilItAndAsManyMoreCanBeOpened()
    {
        // A process with 40 descriptors to spare, and the reserve's handles counted as they are opened and closed.
        var descriptors = new Descriptors(spare: 40);
        var reserve = new DescriptorReserve(descriptors.Open, size: 8);

        Assert.True(reserve.AcceptsMayGoOn());
        Assert.True(reserve.Held);
        Assert.Equal(8, descriptors.Opened);

        // Connections take all but none of what is left: the reserve goes back to the process.
        descriptors.Spare = 0;
        Assert.False(reserve.AcceptsMayGoOn());
        Assert.False(reserve.Held);
        Assert.Equal(0, descriptors.Opened);
        Assert.Equal(8, descriptors.Spare);

        // The reserve alone free again is not enough: it must be held with as many spare beside it.
        Assert.False(reserve.AcceptsMayGoOn());
        descriptors.Spare = 15;
        Assert.False(reserve.AcceptsMayGoOn());
        Assert.Equal(0, descriptors.Opened);
        descriptors.Spare = 16;
        Assert.True(reserve.AcceptsMayGoOn());
        Assert.True(reserve.Held);
        Assert.Equal(8, descriptors.Opened);
        Assert.Equal(8, descriptors.Spare);
    }

    [Fact]
    public void AFailureToOpenThatIsNotForWantOfDescriptors_DoesNotStopAccepts()
    {
        var reserve = new DescriptorReserve(static () => throw new UnauthorizedAccessException("no /dev/null here"), size: 8);

        Assert.True(reserve.AcceptsMayGoOn());
        Assert.False(reserve.Held);
    }

    // Hands out counted handles while the count allows, else fails as EMFILE does.
    private sealed class Descriptors(int spare)
    {
        public int Spare { get; set; } = spare;

        public int Opened { get; private set; }

        public IDisposable Open()
        {
            if (Spare == 0)
            {
                throw new IOException("Too many open files", 24);
            }

            Spare--;
            Opened++;
            return new CountedHandle(this);
        }

        private sealed class CountedHandle(Descriptors owner) : IDisposable
        {
            private bool _closed;

            public void Dispose()
            {
                if (!_closed)
                {
                    _closed = true;
                    owner.Opened--;
                    owner.Spare++;
                }
            }
        }
    }
}
