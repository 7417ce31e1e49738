using Bunit;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Server.Components.Layout;
using VmConsole.Server.Components.Pages;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

/// <summary>The "migrating to host-b" badge on the VM page and in the navigation, and the navigation's state icons, live.</summary>
public sealed class MigratingBadgeTests : ConsoleComponentContext
{
    public MigratingBadgeTests() => Emulator.AddHost("host-b", 8 * Sizes.GiB);

    [Fact]
    public async Task VmPage_MigrationStartsAndEnds_BadgeBesideTheStateAppearsLinksToItAndGoes()
    {
        RenderProviders();
        CreateVm("vm1", memoryMiB: 16);
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));
        Assert.Empty(cut.FindAll("[data-testid='migrating-badge']"));

        var migration = StartHeld("vm1");

        cut.WaitForAssertion(() => Assert.Equal("migrating to host-b", cut.Find("[data-testid='migrating-badge']").TextContent.Trim()));
        var badge = cut.Find("[data-testid='migrating-badge']");
        Assert.Equal($"migrations/{migration.Id}", badge.GetAttribute("href"));
        // Beside the state chip, in the header.
        Assert.Same(cut.Find("[data-state]").Closest(".mud-stack"), badge.Closest(".mud-stack"));

        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid='migrating-badge']")));
    }

    [Fact]
    public async Task NavMenu_VmMigrating_ShowsTheBadgeBesideItsName()
    {
        CreateVm("vm1", memoryMiB: 16);
        CreateVm("vm2", memoryMiB: 16);
        var cut = Render<NavMenu>();

        var migration = StartHeld("vm1");

        cut.WaitForAssertion(() => Assert.Equal("migrating to host-b", cut.Find("[data-vm='vm1'] [data-testid='migrating-badge']").GetAttribute("title")));
        Assert.Null(cut.Find("[data-vm='vm2']").QuerySelector("[data-testid='migrating-badge']"));
        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));
        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid='migrating-badge']")));
    }

    [Fact]
    public void NavMenu_VmPausedAndResumed_StateIconFollowsLive()
    {
        var vm = CreateVm("vm1", memoryMiB: 16);
        var cut = Render<NavMenu>();
        Assert.Equal("running", cut.Find("[data-vm='vm1']").GetAttribute("data-state"));
        Assert.Contains(PathOf(RunState.Running), cut.Find("[data-vm='vm1']").InnerHtml, StringComparison.Ordinal);

        vm.Pause();

        cut.WaitForAssertion(() => Assert.Equal("paused", cut.Find("[data-vm='vm1']").GetAttribute("data-state")));
        Assert.Contains(PathOf(RunState.Paused), cut.Find("[data-vm='vm1']").InnerHtml, StringComparison.Ordinal);
        Assert.DoesNotContain(PathOf(RunState.Running), cut.Find("[data-vm='vm1']").InnerHtml, StringComparison.Ordinal);

        vm.Resume();

        cut.WaitForAssertion(() => Assert.Equal("running", cut.Find("[data-vm='vm1']").GetAttribute("data-state")));
    }

    [Fact]
    public void NavMenu_VmCreatedAfterRender_IsFollowedToo()
    {
        var cut = Render<NavMenu>();
        var vm = CreateVm("late-1", memoryMiB: 16);
        cut.WaitForAssertion(() => Assert.Equal("running", cut.Find("[data-vm='late-1']").GetAttribute("data-state")));

        vm.Pause();

        cut.WaitForAssertion(() => Assert.Equal("paused", cut.Find("[data-vm='late-1']").GetAttribute("data-state")));
    }

    /// <summary>The outline of the state's icon (its path), as the menu's markup holds it.</summary>
    private static string PathOf(RunState state) =>
        System.Text.RegularExpressions.Regex.Match(Display.StateIcon(state), "<path d=\"([^\"]+)\"").Groups[1].Value is { Length: > 0 } path
            ? path
            : throw new InvalidOperationException($"No path in the icon of {state}.");

    /// <summary>A migration of <paramref name="vm"/> to host-b that stays in pre-switchover until cancelled.</summary>
    private PrecopyMigration StartHeld(string vm) =>
        Engine.Start(new MigrationRequest(vm) { DestinationHost = "host-b", Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true } });
}
