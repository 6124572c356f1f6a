using Registry.EdgeHttp.Http;
using Turn = Registry.EdgeHttp.Http.NewcomerQueue.Turn;

namespace Registry.UnitTests.EdgeHttp.Http;

public sealed class NewcomerQueueTests
{
    [Fact]
    public void TheNewcomerWhoseAddressHoldsFewest_GoesFirst_ThenTheOneThatCameFirst()
    {
        var queue = new NewcomerQueue(8);
        var heavy = queue.Enter(held: 3);
        var early = queue.Enter(held: 1);
        var late = queue.Enter(held: 1);

        Assert.Equal(Turn.First, queue.TurnOf(early));
        Assert.Equal(Turn.Waiting, queue.TurnOf(late));
        Assert.Equal(Turn.Waiting, queue.TurnOf(heavy));

        var light = queue.Enter(held: 0);
        Assert.Equal(Turn.First, queue.TurnOf(light));
        Assert.Equal(Turn.Waiting, queue.TurnOf(early));

        queue.Leave(light);
        queue.Leave(early);
        Assert.Equal(Turn.First, queue.TurnOf(late));
        queue.Leave(late);
        Assert.Equal(Turn.First, queue.TurnOf(heavy));
        queue.Leave(heavy);
        Assert.Equal(0, queue.Count);
    }

    [Fact]
    public void AFullQueue_DropsItsLastForALighterNewcomer_AndRefusesAHeavierOrLaterOne()
    {
        var queue = new NewcomerQueue(2);
        var first = queue.Enter(held: 1);
        var last = queue.Enter(held: 2);

        Assert.Equal(NewcomerQueue.Refused, queue.Enter(held: 2));
        Assert.Equal(NewcomerQueue.Refused, queue.Enter(held: 5));

        var light = queue.Enter(held: 0);
        Assert.NotEqual(NewcomerQueue.Refused, light);
        Assert.Equal(Turn.Dropped, queue.TurnOf(last));
        Assert.Equal(Turn.First, queue.TurnOf(light));
        Assert.Equal(Turn.Waiting, queue.TurnOf(first));
        Assert.Equal(2, queue.Count);

        // The dropped newcomer's leaving takes nobody else out.
        queue.Leave(last);
        Assert.Equal(2, queue.Count);
    }

    [Fact]
    public void AddressesHoldingMoreThan255Places_QueueAsIf255()
    {
        var queue = new NewcomerQueue(4);
        var huge = queue.Enter(held: 100_000);
        var heavy = queue.Enter(held: 255);

        Assert.Equal(Turn.First, queue.TurnOf(huge));
        Assert.Equal(Turn.Waiting, queue.TurnOf(heavy));
    }
}
