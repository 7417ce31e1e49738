using Bunit;
using Microsoft.AspNetCore.Components.Rendering;
using VmConsole.Server.Components;

namespace VmConsole.Server.Tests.Components;

public sealed class LiveComponentBaseTests : ConsoleComponentContext
{
    [Fact]
    public async Task LiveComponentBase_HammeredFromFourThreads_RendersAtMostTenTimesASecondThenShowsTheLatest()
    {
        var cut = Render<Hammered>();
        var before = cut.Instance.Renders;
        var stop = DateTime.UtcNow.AddSeconds(1.5);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            while (DateTime.UtcNow < stop)
            {
                cut.Instance.Poke();
                Thread.Yield();
            }
        })));
        var during = cut.Instance.Renders - before;
        var last = cut.Instance.Value;

        Assert.InRange(during, 1, 16);
        cut.WaitForAssertion(() => Assert.Equal(last.ToString(System.Globalization.CultureInfo.InvariantCulture), cut.Find("#value").TextContent));
        Assert.True(last > during * 10, $"{last} requests should have been coalesced into {during} renders");
    }

    /// <summary>Renders the number of times it was poked; counts its renders.</summary>
    private sealed class Hammered : LiveComponentBase
    {
        // Written by the poking threads with Interlocked, read by the renderer.
        private int _value;

        // Written by the renderer only.
        private int _renders;

        public int Value => Volatile.Read(ref _value);

        public int Renders => Volatile.Read(ref _renders);

        public void Poke()
        {
            Interlocked.Increment(ref _value);
            RequestRender();
        }

        protected override void BuildRenderTree(RenderTreeBuilder builder)
        {
            Interlocked.Increment(ref _renders);
            builder.OpenElement(0, "span");
            builder.AddAttribute(1, "id", "value");
            builder.AddContent(2, Value.ToString(System.Globalization.CultureInfo.InvariantCulture));
            builder.CloseElement();
        }

        protected override void OnDispose()
        {
        }
    }
}
