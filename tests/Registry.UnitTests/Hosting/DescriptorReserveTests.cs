using Registry.Hosting;

namespace Registry.UnitTests.Hosting;

public sealed class DescriptorReserveTests
{
    [Fact]
    public void ShortOfDescriptors_TheReserveIsGivenBack_AndAcceptsWaitUntilTwiceItIsFree()
    {
        // A process with 40 descriptors to spare; the reserve's handles counted as they are opened and closed.
        var descriptors = new Descriptors(spare: 40);
        var reserve = new DescriptorReserve(descriptors.Open, () => descriptors.Spare, size: 8);

        Assert.True(reserve.AcceptsMayGoOn());
        Assert.True(reserve.Held);
        Assert.Equal(8, descriptors.Opened);
        Assert.Equal(32, descriptors.Spare);

        // Connections take what is left down to Low: the reserve stays until fewer are free, then goes back.
        descriptors.Spare = DescriptorReserve.Low;
        Assert.True(reserve.AcceptsMayGoOn());
        descriptors.Spare = DescriptorReserve.Low - 1;
        Assert.False(reserve.AcceptsMayGoOn());
        Assert.False(reserve.Held);
        Assert.Equal(0, descriptors.Opened);
        Assert.Equal(DescriptorReserve.Low - 1 + 8, descriptors.Spare);

        // Accepts wait until twice the reserve is free, and only then is it held again; a look opens nothing.
        descriptors.Spare = 15;
        Assert.False(reserve.AcceptsMayGoOn());
        Assert.Equal(0, descriptors.Opened);
        Assert.Equal(0, descriptors.EverOpenedWhileShort);
        descriptors.Spare = 16;
        Assert.True(reserve.AcceptsMayGoOn());
        Assert.True(reserve.Held);
        Assert.Equal(8, descriptors.Opened);
        Assert.Equal(8, descriptors.Spare);
    }

    [Fact]
    public void WhereFreeDescriptorsCannotBeCounted_AcceptsGoOn_AndNothingIsHeld()
    {
        var descriptors = new Descriptors(spare: 40);
        var reserve = new DescriptorReserve(descriptors.Open, static () => null, size: 8);

        Assert.True(reserve.AcceptsMayGoOn());
        Assert.False(reserve.Held);
        Assert.Equal(0, descriptors.Opened);
    }

    [Fact]
    public void AReserveThatCannotBeOpened_DoesNotStopAccepts()
    {
        var reserve = new DescriptorReserve(static () => throw new UnauthorizedAccessException("no /dev/null here"), static () => 100, size: 8);

        Assert.True(reserve.AcceptsMayGoOn());
        Assert.False(reserve.Held);
    }

    // Hands out counted handles while the count allows, else fails as EMFILE does.
    private sealed class Descriptors(int spare)
    {
        public int Spare { get; set; } = spare;

        public int Opened { get; private set; }

        // Handles opened while fewer than 16 were free: a look that filled the table to find out.
        public int EverOpenedWhileShort { get; private set; }

        public IDisposable Open()
        {
            if (Spare == 0)
            {
                throw new IOException("Too many open files", 24);
            }

            EverOpenedWhileShort += Spare < 16 ? 1 : 0;
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
