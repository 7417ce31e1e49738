using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

/// <summary>The pre-check of a move to a QEMU host says whether CPU and device state crosses, or QEMU boots the VM from reset.</summary>
public sealed class MigrationPrecheckDeviceStateTests
{
    [Fact]
    public void CrossDriver_VmMadeHere_MemoryOnlyAndQemuStartsItFromReset()
    {
        using var emulator = new Emulator();
        emulator.AddHost("h", 4 * Sizes.GiB);
        var vm = emulator.CreateVm(new VmDefinition("vm1", "h", "pc", 64 * Sizes.MiB));

        var crosses = WhatCrosses(vm);

        Assert.Contains("QEMU starts it from reset", crosses, StringComparison.Ordinal);
    }

    [Fact]
    public void CrossDriver_VmWithDeviceStateFromQemu_SaysTheStateGoesBackAndTheGuestGoesOn()
    {
        using var emulator = new Emulator();
        emulator.AddHost("h", 4 * Sizes.GiB);
        var vm = emulator.CreateVm(new VmDefinition("vm1", "h", "pc", 64 * Sizes.MiB));
        vm.SetDeviceState(new DeviceState([new DeviceSection("cpu", 0, 12, new byte[] { 1 }, """{"name":"cpu"}""")], """{"page_size":4096}"""));

        var crosses = WhatCrosses(vm);

        Assert.Contains("CPU and device state QEMU sent with the VM (1 sections)", crosses, StringComparison.Ordinal);
        Assert.Contains("QEMU goes on where the guest stopped", crosses, StringComparison.Ordinal);
    }

    private static string WhatCrosses(Vm vm) =>
        MigrationPrecheck.CrossDriver(vm, new QemuHostStub(), []).Single(i => i.Check == "What crosses").Detail;

    private sealed class QemuHostStub : IVmHost
    {
        public string Name => "qemu-a";

        public DriverKind Driver => DriverKind.Qemu;

        public long CapacityBytes => 4 * Sizes.GiB;

        public long ReservedBytes => 0;

        public string? UnavailableReason => null;
    }
}
