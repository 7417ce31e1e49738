using System.Reflection;
using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.AspNetCore.Components;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Server.Components.Pages;
using VmConsole.Server.Domain;

namespace VmConsole.Server.Tests.Components;

public sealed class VmPageTests : ConsoleComponentContext
{
    [Fact]
    public void VmPage_LeaseTakenAndReleased_ShowsThenHidesTheFreezeBanner()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));
        Assert.Empty(cut.FindAll("[data-testid='freeze-banner']"));

        var lease = vm.Freeze.Acquire(new Holder("m-42", MigrationStatus.Active));

        cut.WaitForAssertion(() =>
        {
            var banner = cut.Find("[data-testid='freeze-banner']");
            Assert.Contains("Migration m-42 is active", banner.TextContent, StringComparison.Ordinal);
        });

        lease.Dispose();

        cut.WaitForAssertion(() => Assert.Empty(cut.FindAll("[data-testid='freeze-banner']")));
    }

    [Fact]
    public void VmPage_VmPausedElsewhere_UpdatesStateWithoutReload()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));
        Assert.Equal("running", cut.Find("[data-state]").GetAttribute("data-state"));

        vm.Pause();

        cut.WaitForAssertion(() => Assert.Equal("paused", cut.Find("[data-state]").GetAttribute("data-state")));
    }

    [Fact]
    public void VmPage_BackendAddedElsewhere_AppearsInTheTable()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        vm.AddMemoryBackend("mem7", 8 * VmConsole.Emulation.Sizes.MiB);

        cut.WaitForAssertion(() => Assert.NotNull(cut.Find("[data-backend='mem7']")));
    }

    [Fact]
    public void VmPage_Disposed_UnsubscribesFromVmSamplerAndInventory()
    {
        RenderProviders();
        var vm = CreateVm("vm1");
        var sampler = Services.GetRequiredService<DirtyRateSampler>();
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));
        var inventory = Services.GetRequiredService<VmConsole.Emulation.Drivers.VmInventory>();
        Assert.Equal(1, Subscribers(vm, "StateChanged"));
        Assert.Equal(1, Subscribers(sampler, "Sampled"));
        Assert.Equal(1, Subscribers(inventory, "InventoryChanged"));

        cut.Instance.Dispose();

        Assert.Equal(0, Subscribers(vm, "StateChanged"));
        Assert.Equal(0, Subscribers(sampler, "Sampled"));
        Assert.Equal(0, Subscribers(inventory, "InventoryChanged"));
    }

    /// <summary>How many handlers a field-like event has (its backing field has the event's name).</summary>
    private static int Subscribers(object source, string eventName) =>
        (source.GetType().GetField(eventName, BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(source) as Delegate)?.GetInvocationList().Length ?? 0;

    private sealed class Holder(string id, MigrationStatus status) : IMigrationLeaseHolder
    {
        public string MigrationId => id;

        public MigrationStatus Status => status;

        public void RequestCancel(string? error)
        {
        }
    }
}
