using System.Reflection;
using Bunit;
using MudBlazor;
using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Workloads;
using VmConsole.Server.Accounts;
using VmConsole.Server.Components.Pages;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

public sealed class WorkloadEditorTests : ConsoleComponentContext
{
    [Fact]
    public void WorkloadEditor_ValidValues_SavesThemToTheVmAndLogsIt()
    {
        var popovers = RenderProviders();
        var vm = CreateVm("vm1", memoryMiB: 64);
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        cut.Choose(popovers, "workload-kind", "uniform");
        cut.Find("[data-testid='workload-rate']").Input("2000");
        cut.Find("[data-testid='workload-working-set']").Input("16");
        cut.Find("[data-testid='workload-save']").Click();

        cut.WaitForAssertion(() => Assert.Equal(new WorkloadSpec(WorkloadKind.Uniform, 2000, 16 * Sizes.MiB), vm.Workload.Spec));
        Assert.Contains(ActionLog.Lines, l => l == ("admin", "Set the workload of vm1 to uniform 2,000 pages/s over 16 MiB", "vm1", "vm1", null));
        cut.WaitForAssertion(() => Assert.True(cut.Find("[data-testid='workload-save']").IsDisabled(), "nothing left to save"));
    }

    [Theory]
    [InlineData("0", "16", "workload-rate", "needs a rate above zero")]
    [InlineData("1000", "128", "workload-working-set", "The working set must be between 0 (all RAM) and the VM's 64 MiB")]
    public void WorkloadEditor_InvalidValue_ShowsTheErrorAtItsFieldAndSavesNothing(string rate, string workingSetMiB, string field, string error)
    {
        var popovers = RenderProviders();
        var vm = CreateVm("vm1", memoryMiB: 64);
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        cut.Choose(popovers, "workload-kind", "hotspot");
        cut.Find("[data-testid='workload-rate']").Input(rate);
        cut.Find("[data-testid='workload-working-set']").Input(workingSetMiB);
        cut.Find("[data-testid='workload-save']").Click();

        cut.WaitForAssertion(() => Assert.Contains(error, cut.ErrorOf(field) ?? "", StringComparison.Ordinal));
        Assert.True(cut.Find("[data-testid='workload-save']").IsDisabled());
        Assert.Equal(WorkloadSpec.Idle, vm.Workload.Spec);
        Assert.Empty(ActionLog.Lines);
    }

    [Fact]
    public void WorkloadEditor_AsOperator_ShowsTheWorkloadButCannotChangeIt()
    {
        Authorization.SetRoles(Roles.Operator);
        RenderProviders();
        CreateVm("vm1");
        var cut = Render<VmPage>(p => p.Add(c => c.Name, "vm1"));

        Assert.True(cut.Find("[data-testid='workload-save']").IsDisabled());
        Assert.Contains("Only an admin", cut.Find("[data-testid='workload-admin-only']").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void WorkloadEditor_DriverWithoutWorkloads_SaysSoInsteadOfTheFields()
    {
        RenderProviders();
        var qemuVm = DispatchProxy.Create<IVirtualMachine, QemuVmWithoutWorkload>();

        var cut = Render<WorkloadEditor>(p => p.Add(c => c.Vm, qemuVm));

        Assert.Equal(
            "A console-made workload is not supported by the qemu driver that runs VM 'q-1'; its guest does: sweep guest.",
            cut.Find("[data-testid='workload-not-supported']").TextContent);
        Assert.Empty(cut.FindAll("[data-testid='workload-save']"));
    }

    /// <summary>A VM of the QEMU driver as the editor sees it: a name, a driver, no workload feature, its guest program.</summary>
    public class QemuVmWithoutWorkload : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) => targetMethod?.Name switch
        {
            "get_Name" => "q-1",
            "get_Driver" => DriverKind.Qemu,
            "get_Features" => VmFeatures.None,
            "get_Activity" => "sweep guest",
            _ => throw new NotSupportedException(targetMethod?.Name),
        };
    }
}
