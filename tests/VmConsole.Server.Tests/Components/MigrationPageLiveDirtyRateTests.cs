using Bunit;
using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

/// <summary>The migration page's dirty rates during the first pass, the emulator's sampling clock moved by the test.</summary>
public sealed class MigrationPageLiveDirtyRateTests : ConsoleComponentContext
{
    private readonly FakeTimeProvider _clock;

    public MigrationPageLiveDirtyRateTests()
        : this(new FakeTimeProvider())
    {
    }

    private MigrationPageLiveDirtyRateTests(FakeTimeProvider clock)
        : base(clock)
    {
        _clock = clock;
        Emulator.AddHost("host-b", 8 * Sizes.GiB);
    }

    [Fact]
    public async Task MigrationPage_FirstPassBeforeAnyDirtySync_ShowsTheGuestsLiveDirtyRate()
    {
        RenderProviders();
        var channels = GatedChannels.Install(Engine, holdFlushes: true);
        var vm = CreateVm("vm1", memoryMiB: 32);

        // The guest dirties 512 pages in one second of the sampler's clock: 2 MiB/s, as the VM page would say.
        Emulator.SampleDirtyRates();
        var page = new byte[4096];
        for (var i = 0; i < 512; i++)
        {
            page[0] = (byte)(i + 1);
            vm.MainRam.Write(i * 4096L, page);
        }

        _clock.Advance(TimeSpan.FromSeconds(1));
        Emulator.SampleDirtyRates();

        var migration = Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" });
        var writer = await channels.For(migration).WaitAsync(TimeSpan.FromSeconds(10));
        try
        {
            var cut = Render<MigrationPage>(p => p.Add(c => c.Id, migration.Id));

            // Held in its first pass: QEMU's per-sync figure has nothing yet; the live one has the guest's rate.
            cut.WaitForAssertion(() => Assert.Equal("2 MiB/s (512 pages/s)", Fact(cut, "Dirty rate (live)")));
            Assert.Equal("no sync yet (first pass)", Fact(cut, "Dirty rate at last sync"));
            Assert.Equal(0, migration.GetStats().DirtyPagesRate);
        }
        finally
        {
            migration.Cancel();
            writer.Release();
            await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));
        }
    }

    private static string Fact(IRenderedComponent<MigrationPage> cut, string label) =>
        cut.FindAll("[data-testid='migration-stats'] .vmc-fact")
            .Single(f => f.Children[0].TextContent.Trim() == label)
            .Children[1].TextContent.Trim();
}
