using System.Reflection;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Qemu;
using VmConsole.Migration.Wire;
using VmConsole.Server.Components.Pages;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

/// <summary>Multifd and XBZRLE in the migrate dialog (any driver), the receive dialog and the migration page.</summary>
public sealed class MigrationOptionsComponentTests : ConsoleComponentContext
{
    private IRenderedComponent<MudPopoverProvider> _popovers = null!;

    public MigrationOptionsComponentTests() => Emulator.AddHost("host-b", 8 * Sizes.GiB);

    [Fact]
    public async Task MigrateDialog_EmulatedVm_OffersMultifdAndXbzrleButNotPostcopy()
    {
        var provider = await ShowMigrateDialogAsync(CreateVm("vm1"));

        Assert.False(provider.Find("input[data-testid='migrate-multifd']").IsDisabled());
        Assert.False(provider.Find("input[data-testid='migrate-xbzrle']").IsDisabled());
        Assert.Empty(provider.FindAll("[data-testid='migrate-postcopy']"));
        Assert.DoesNotContain("not supported", provider.Markup, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task MigrateDialog_MultifdOn_XbzrleIsOffWithWhyAndTheOtherWayRound()
    {
        var provider = await ShowMigrateDialogAsync(CreateVm("vm1"));

        provider.Find("input[data-testid='migrate-multifd']").Change(true);

        provider.WaitForAssertion(() => Assert.True(provider.Find("input[data-testid='migrate-xbzrle']").IsDisabled()));
        Assert.Contains("QEMU never uses XBZRLE with multifd", provider.Find("[data-testid='migrate-xbzrle-why']").TextContent, StringComparison.Ordinal);
        Assert.False(provider.Find("[data-testid='migrate-channels']").IsDisabled());

        provider.Find("input[data-testid='migrate-multifd']").Change(false);
        provider.Find("input[data-testid='migrate-xbzrle']").Change(true);

        provider.WaitForAssertion(() => Assert.True(provider.Find("input[data-testid='migrate-multifd']").IsDisabled()));
        Assert.Contains("QEMU never uses XBZRLE with multifd", provider.Find("[data-testid='migrate-multifd-why']").TextContent, StringComparison.Ordinal);
        Assert.Empty(provider.FindAll("[data-testid='migrate-xbzrle-why']"));
        Assert.True(provider.Find("[data-testid='migrate-channels']").IsDisabled());
    }

    [Fact]
    public async Task MigrateDialog_QemuVm_OffersMultifdXbzrleAndPostcopyWithTheSameRules()
    {
        var qemuVm = DispatchProxy.Create<IVirtualMachine, QemuVmStub>();
        var provider = await ShowMigrateDialogAsync(qemuVm);

        Assert.NotEmpty(provider.FindAll("[data-testid='migrate-postcopy']"));
        provider.Find("input[data-testid='migrate-xbzrle']").Change(true);

        provider.WaitForAssertion(() => Assert.True(provider.Find("input[data-testid='migrate-multifd']").IsDisabled()));
        Assert.NotNull(provider.Find("[data-testid='xbzrle-estimate-note']"));
        provider.Find("[data-testid='migrate-xbzrle-cache']").Input("3");
        provider.WaitForAssertion(() => Assert.Equal("A power of two, such as 2 or 4 MiB.", provider.ErrorOf("migrate-xbzrle-cache")));
    }

    [Theory]
    [InlineData("0", "Between 1 and 255.")]
    [InlineData("256", "Between 1 and 255.")]
    public async Task MigrateDialog_ChannelsOutOfRange_FieldErrorAndNoStart(string typed, string error)
    {
        var provider = await ShowMigrateDialogAsync(CreateVm("vm1"));
        provider.Find("input[data-testid='migrate-multifd']").Change(true);

        provider.Find("[data-testid='migrate-channels']").Input(typed);

        provider.WaitForAssertion(() => Assert.Equal(error, provider.ErrorOf("migrate-channels")));
        Assert.True(provider.Find("[data-testid='migrate-start']").IsDisabled());
        Assert.Empty(Engine.Registry.All);
    }

    [Fact]
    public async Task MigrateDialog_XbzrleCacheNotAPowerOfTwo_FieldErrorNoStartAndTheEstimateSaysWholePages()
    {
        var provider = await ShowMigrateDialogAsync(CreateVm("vm1"));
        provider.Find("input[data-testid='migrate-xbzrle']").Change(true);

        provider.Find("[data-testid='migrate-xbzrle-cache']").Input("100");

        provider.WaitForAssertion(() => Assert.Equal("A power of two, such as 64 or 128 MiB.", provider.ErrorOf("migrate-xbzrle-cache")));
        Assert.True(provider.Find("[data-testid='migrate-start']").IsDisabled());
        Assert.Contains("assumes whole pages until the first passes measure the encoding rate", provider.Find("[data-testid='xbzrle-estimate-note']").TextContent, StringComparison.Ordinal);

        provider.Find("[data-testid='migrate-xbzrle-cache']").Input("128");

        provider.WaitForAssertion(() => Assert.Null(provider.ErrorOf("migrate-xbzrle-cache")));
        Assert.False(provider.Find("[data-testid='migrate-start']").IsDisabled());
    }

    [Fact]
    public async Task MigrateDialog_VmWithAnEarlierXbzrleMigration_TheEstimateUsesTheEncodingRateItMeasured()
    {
        var earlier = new ScriptedMigration("mig-earlier", "vm1", MigrationParameters.Default, MigrationCapabilities.Default with { Xbzrle = true }, TimeProvider.System);
        Engine.Registry.Add(earlier);
        earlier.Report(new MigrationStats { Status = MigrationStatus.Completed, XbzrleCache = new(64 * Sizes.MiB, Sizes.MiB, 1000, 10, 0.01, 6.5, 0) });
        var provider = await ShowMigrateDialogAsync(CreateVm("vm1"));

        provider.Find("input[data-testid='migrate-xbzrle']").Change(true);

        provider.WaitForAssertion(() => Assert.Contains(
            "uses the encoding rate this VM's last XBZRLE migration measured (6.5 bytes of page per byte sent)", provider.Find("[data-testid='xbzrle-estimate-note']").TextContent, StringComparison.Ordinal));
    }

    [Fact]
    public async Task MigrateDialog_MultifdWithZstdOnFourChannels_StartsWithThem()
    {
        var provider = await ShowMigrateDialogAsync(CreateVm("vm1"));
        provider.Find("input[data-testid='migrate-multifd']").Change(true);
        provider.Find("[data-testid='migrate-channels']").Input("4");
        provider.Choose(_popovers, "migrate-compression", "zstd");

        provider.Find("[data-testid='migrate-start']").Click();

        provider.WaitForAssertion(() => Assert.Single(Engine.Registry.All));
        var migration = Engine.Registry.All[0];
        Assert.True(migration.Capabilities.Multifd);
        Assert.False(migration.Capabilities.Xbzrle);
        Assert.Equal((4, MultifdCompression.Zstd), (migration.Parameters.MultifdChannels, migration.Parameters.MultifdCompression));
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task MigrateDialog_XbzrleWith32MiBCache_StartsWithIt()
    {
        var provider = await ShowMigrateDialogAsync(CreateVm("vm1"));
        provider.Find("input[data-testid='migrate-xbzrle']").Change(true);
        provider.Find("[data-testid='migrate-xbzrle-cache']").Input("32");

        provider.Find("[data-testid='migrate-start']").Click();

        provider.WaitForAssertion(() => Assert.Single(Engine.Registry.All));
        var migration = Engine.Registry.All[0];
        Assert.True(migration.Capabilities.Xbzrle);
        Assert.Equal(32 * Sizes.MiB, migration.Parameters.XbzrleCacheSize);
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task ReceiveDialog_MultifdPostcopyAndXIgnoreShared_TheListenerIsToldThemAndTheSourceCommandsAreShown()
    {
        _popovers = RenderProviders();
        var provider = Render<MudDialogProvider>();
        var dialogs = Services.GetRequiredService<IDialogService>();
        await provider.InvokeAsync(() => dialogs.ShowAsync<ReceiveFromQemuDialog>("Receive"));
        provider.WaitForAssertion(() => provider.Find("[data-testid='receive-submit']"));
        provider.Find("[data-testid='receive-name']").Input("live-mf");
        Assert.True(provider.Find("[data-testid='receive-channels']").IsDisabled());
        provider.Find("input[data-testid='receive-multifd']").Change(true);
        provider.Find("[data-testid='receive-channels']").Input("0");
        provider.WaitForAssertion(() => Assert.Equal("Between 1 and 255.", provider.ErrorOf("receive-channels")));
        Assert.True(provider.Find("[data-testid='receive-submit']").IsDisabled());
        provider.Find("[data-testid='receive-channels']").Input("8");
        provider.Choose(_popovers, "receive-compression", "zlib");
        provider.Find("input[data-testid='receive-postcopy-ram']").Change(true);
        provider.Find("input[data-testid='receive-x-ignore-shared']").Change(true);

        provider.Find("[data-testid='receive-submit']").Click();

        provider.WaitForAssertion(() => Assert.NotEmpty(provider.FindAll("[data-testid='receive-setup-command']")));
        var migration = Assert.IsType<QemuIncomingMigration>(Assert.Single(Engine.Registry.All));
        Assert.Equal(new IncomingCapabilities(PostcopyRam: true, XIgnoreShared: true, Multifd: true, MultifdChannels: 8, MultifdCompression: MultifdCompression.Zlib), migration.IncomingCapabilities);
        Assert.Equal(
            ["migrate_set_capability multifd on", "migrate_set_parameter multifd-channels 8", "migrate_set_parameter multifd-compression zlib", "migrate_set_capability postcopy-ram on", "migrate_set_capability x-ignore-shared on"],
            provider.FindAll("[data-testid='receive-setup-command']").Select(c => c.TextContent.Trim()));
        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task MigrationPage_XbzrleMigration_ShowsItsSettingsAndTheCacheFiguresLive()
    {
        RenderProviders();
        var migration = new ScriptedMigration(
            "mig-xbzrle-page", "vm1", MigrationParameters.Default with { XbzrleCacheSize = 32 * Sizes.MiB }, MigrationCapabilities.Default with { Xbzrle = true }, TimeProvider.System);
        Engine.Registry.Add(migration);
        var cut = Render<MigrationPage>(p => p.Add(c => c.Id, migration.Id));

        Assert.Contains("XBZRLE, 32 MiB cache", cut.Find("[data-testid='migration-transfer']").TextContent, StringComparison.Ordinal);
        Assert.NotNull(cut.Find("[data-testid='migration-xbzrle-none']"));

        await cut.InvokeAsync(() => migration.Report(new MigrationStats { Status = MigrationStatus.Active, XbzrleCache = new(32 * Sizes.MiB, 3 * Sizes.MiB, 12_345, 678, 0.125, 7.5, 9) }));

        cut.WaitForAssertion(() => Assert.Equal("12,345", XbzrleFact(cut, "XBZRLE pages")));
        Assert.Equal("32 MiB", XbzrleFact(cut, "Cache size"));
        Assert.Equal("3 MiB", XbzrleFact(cut, "Sent as XBZRLE"));
        Assert.Equal("678", XbzrleFact(cut, "Cache misses"));
        Assert.Equal("12.5 %", XbzrleFact(cut, "Miss rate (last pass)"));
        Assert.Equal("7.5 : 1", XbzrleFact(cut, "Encoding rate (last pass)"));
        Assert.Equal("9", XbzrleFact(cut, "Overflows (sent whole)"));

        await cut.InvokeAsync(() => migration.Report(migration.GetStats() with { Status = MigrationStatus.Completed, XbzrleCache = new(32 * Sizes.MiB, 4 * Sizes.MiB, 20_000, 700, 0.05, 9.25, 9) }));

        cut.WaitForAssertion(() => Assert.Equal("20,000", XbzrleFact(cut, "XBZRLE pages")));
        Assert.Equal("5 %", XbzrleFact(cut, "Miss rate (last pass)"));
    }

    [Fact]
    public void MigrationView_MultifdMigration_ShowsChannelsAndCompressionAndNoXbzrlePanel()
    {
        var migration = MigrationViewTests.Active(remainingMiB: 500) with
        {
            Capabilities = MigrationCapabilities.Default with { Multifd = true },
            Parameters = MigrationParameters.Default with { MultifdChannels = 4, MultifdCompression = MultifdCompression.Zlib, MultifdZlibLevel = 6 },
        };

        var cut = Render<MigrationView>(p => p.Add(c => c.Migration, migration).Add(c => c.Live, true));

        Assert.Equal("· multifd, 4 channels, compression zlib (level 6)", cut.Find("[data-testid='migration-transfer']").TextContent.Trim());
        Assert.Empty(cut.FindAll("[data-testid='migration-xbzrle']"));
    }

    private static string XbzrleFact(IRenderedComponent<MigrationPage> cut, string label) =>
        cut.FindAll("[data-testid='migration-xbzrle'] .vmc-fact").Single(f => f.Children[0].TextContent.Trim() == label).Children[1].TextContent.Trim();

    private async Task<IRenderedComponent<MudDialogProvider>> ShowMigrateDialogAsync(IVirtualMachine vm)
    {
        _popovers = RenderProviders();
        var provider = Render<MudDialogProvider>();
        var dialogs = Services.GetRequiredService<IDialogService>();
        await provider.InvokeAsync(() => dialogs.ShowAsync<MigrateDialog>("Migrate", new DialogParameters<MigrateDialog> { { d => d.Vm, vm } }));
        provider.WaitForAssertion(() => provider.Find("[data-testid='migrate-start']"));
        return provider;
    }

    /// <summary>A running VM of the QEMU driver as the dialog sees it: its name and host, 64 MiB of pc.ram, QEMU's features and a measured dirty rate.</summary>
    public class QemuVmStub : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            "get_Name" => "q-1",
            "get_HostName" => "qemu-a",
            "get_Driver" => DriverKind.Qemu,
            "get_Features" => VmFeatures.Process | VmFeatures.MeasuredDirtyRate | VmFeatures.ReadGuestMemory | VmFeatures.Postcopy,
            "get_MemoryBytes" => 64 * Sizes.MiB,
            "get_DirtyPagesPerSecond" => (double?)100,
            "GetRamBlocksAsync" => Task.FromResult<IReadOnlyList<RamBlockRow>>(
                [new(1, "pc.ram", "pc.ram", null, 0, 4096, 64 * Sizes.MiB, 64 * Sizes.MiB, Migratable: true, Resizeable: false, Shared: false, ReadOnly: false, GuestAddress: 0, 0)]),
            _ => throw new NotSupportedException(targetMethod?.Name),
        };
    }
}
