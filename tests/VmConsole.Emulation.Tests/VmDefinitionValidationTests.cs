using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

public sealed class VmDefinitionValidationTests
{
    [Theory]
    [InlineData("a")]
    [InlineData("0")]
    [InlineData("vm-1")]
    [InlineData("9lives")]
    [InlineData("a-")]
    [InlineData("a--b")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz")] // 63 characters
    public void CreateVm_ValidName_Created(string name)
    {
        using var test = new TestEmulator();

        var vm = test.Emulator.CreateVm(TestEmulator.Definition(name, "microvm", 16 * MiB));

        Assert.Equal(name, vm.Name);
        Assert.Same(vm, test.Emulator.GetVm(name));
    }

    [Theory]
    [InlineData("")]
    [InlineData("-vm")]
    [InlineData("VM1")]
    [InlineData("vM")]
    [InlineData("vm_1")]
    [InlineData("vm.1")]
    [InlineData("vm 1")]
    [InlineData(" vm")]
    [InlineData("vm/1")]
    [InlineData("vmé")]
    [InlineData("ｖｍ")] // full-width letters
    [InlineData("vm١")] // Arabic-Indic digit one
    [InlineData("vm\n")]
    [InlineData("vm\r\n")]
    [InlineData("\nvm")]
    [InlineData("abcdefghijklmnopqrstuvwxyz0123456789-abcdefghijklmnopqrstuvwxyz0")] // 64 characters
    public void CreateVm_InvalidName_InvalidName(string name)
    {
        using var test = new TestEmulator();

        Expect.Code("invalid-name", () => test.Emulator.CreateVm(TestEmulator.Definition(name, "microvm", 16 * MiB)));

        Assert.Empty(test.Emulator.Vms);
        Assert.Equal(0, test.Host.ReservedBytes);
    }

    [Theory]
    [InlineData(63, true)]
    [InlineData(64, false)]
    [InlineData(200, false)]
    public void CreateVm_NameOfLength_ValidUpTo63(int length, bool valid)
    {
        using var test = new TestEmulator();
        var definition = TestEmulator.Definition(new string('v', length), "microvm", 16 * MiB);

        if (valid)
        {
            Assert.Equal(length, test.Emulator.CreateVm(definition).Name.Length);
        }
        else
        {
            Expect.Code("invalid-name", () => test.Emulator.CreateVm(definition));
        }
    }

    [Fact]
    public void CreateVm_NullName_InvalidName()
    {
        using var test = new TestEmulator();

        Expect.Code("invalid-name", () => test.Emulator.CreateVm(TestEmulator.Definition(null!, "microvm", 16 * MiB)));
    }

    [Fact]
    public void CreateVm_VeryLongName_MessageQuotesItShortened()
    {
        using var test = new TestEmulator();

        var exception = Expect.Code("invalid-name", () => test.Emulator.CreateVm(TestEmulator.Definition(new string('x', 10_000), "microvm", 16 * MiB)));

        Assert.True(exception.Message.Length < 300, exception.Message);
    }

    [Fact]
    public void CreateVm_DuplicateName_VmExists()
    {
        using var test = new TestEmulator();
        test.Emulator.AddHost("host2", 8 * GiB);
        test.Emulator.CreateVm(TestEmulator.Definition("dup", "microvm", 16 * MiB));
        var reserved = test.Host.ReservedBytes;

        // Names are unique across hosts.
        var exception = Expect.Code("vm-exists", () => test.Emulator.CreateVm(TestEmulator.Definition("dup", "microvm", 16 * MiB) with { Host = "host2" }));

        Assert.Equal(ErrorKind.Conflict, exception.Kind);
        Assert.Single(test.Emulator.Vms);
        Assert.Equal(reserved, test.Host.ReservedBytes);
        Assert.Equal(0, test.Emulator.GetHost("host2").ReservedBytes);
    }

    [Fact]
    public void CreateVm_UnknownHost_HostNotFound()
    {
        using var test = new TestEmulator();

        var exception = Expect.Code("host-not-found", () => test.Emulator.CreateVm(TestEmulator.Definition() with { Host = "nowhere" }));

        Assert.Equal(ErrorKind.NotFound, exception.Kind);
        Assert.Empty(test.Emulator.Vms);
    }

    [Theory]
    [InlineData("")]
    [InlineData("Q35")]
    [InlineData("isapc")]
    [InlineData("pc-q35-7.2")]
    public void CreateVm_UnknownMachine_InvalidMachine(string machine)
    {
        using var test = new TestEmulator();

        Expect.Code("invalid-machine", () => test.Emulator.CreateVm(TestEmulator.Definition(machine: machine)));

        Assert.Empty(test.Emulator.Vms);
        Assert.Equal(0, test.Host.ReservedBytes);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-MiB)]
    [InlineData(4096)]
    [InlineData(MiB + 4096)]
    [InlineData((3 * MiB) / 2)]
    [InlineData((1024 * GiB) + MiB)]
    [InlineData(long.MaxValue)]
    public void CreateVm_MemoryNotWholeMiBOrOutOfRange_InvalidMemorySize(long memoryBytes)
    {
        using var test = new TestEmulator();

        Expect.Code("invalid-memory-size", () => test.Emulator.CreateVm(TestEmulator.Definition(memoryBytes: memoryBytes)));

        Assert.Empty(test.Emulator.Vms);
        Assert.Equal(0, test.Host.ReservedBytes);
    }

    [Fact]
    public void CreateVm_Exactly1TiB_PassesSizeCheckThenMeetsHostCapacity()
    {
        using var test = new TestEmulator(capacityBytes: 8 * GiB);

        // 1 TiB is the largest size allowed: the refusal comes from the host, not from the size rule.
        Expect.Code("host-capacity", () => test.Emulator.CreateVm(TestEmulator.Definition(memoryBytes: 1024 * GiB)));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(257)]
    public void CreateVm_SlotsOutOfRange_InvalidSlots(int slots)
    {
        using var test = new TestEmulator();

        Expect.Code("invalid-slots", () => test.CreateQ35(slots: slots, maxMemBytes: 2 * GiB));
    }

    [Fact]
    public void CreateVm_256Slots_Created()
    {
        using var test = new TestEmulator();

        var vm = test.CreateQ35(slots: 256, maxMemBytes: 2 * GiB);

        Assert.Equal(256, vm.Slots);
        Assert.Equal(2 * GiB, vm.MaxMemBytes);
    }

    [Fact]
    public void CreateVm_SlotsOnMicrovm_HotplugUnsupported()
    {
        using var test = new TestEmulator();

        Expect.Code("hotplug-unsupported", () => test.Emulator.CreateVm(TestEmulator.Definition("m", "microvm", 16 * MiB) with { Slots = 1, MaxMemBytes = 32 * MiB }));
    }

    [Theory]
    [InlineData(0)] // slots without maxmem
    [InlineData(512 * MiB)] // maxmem equal to memory
    [InlineData(256 * MiB)] // maxmem below memory
    [InlineData(GiB + 4096)] // not whole MiB
    [InlineData((1024 * GiB) + MiB)] // above 1 TiB
    public void CreateVm_SlotsWithBadMaxMem_InvalidMaxMem(long maxMemBytes)
    {
        using var test = new TestEmulator();

        Expect.Code("invalid-maxmem", () => test.CreateQ35(memoryBytes: 512 * MiB, slots: 2, maxMemBytes: maxMemBytes));
    }

    [Fact]
    public void CreateVm_MaxMemAboveMemoryWithoutSlots_InvalidMaxMem()
    {
        using var test = new TestEmulator();

        Expect.Code("invalid-maxmem", () => test.CreateQ35(memoryBytes: 512 * MiB, slots: 0, maxMemBytes: GiB));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(512 * MiB)]
    public void CreateVm_NoSlotsAndMaxMemZeroOrEqual_MaxMemIsMemory(long maxMemBytes)
    {
        using var test = new TestEmulator();

        var vm = test.CreateQ35(memoryBytes: 512 * MiB, slots: 0, maxMemBytes: maxMemBytes);

        Assert.Equal(512 * MiB, vm.MaxMemBytes);
        Assert.Equal(0, vm.Slots);
    }

    [Fact]
    public void CreateVm_RamPlusFirmwareAboveCapacity_HostCapacityAndNothingReserved()
    {
        // Exactly 1 GiB: the RAM fits, the RAM plus firmware does not.
        using var test = new TestEmulator(capacityBytes: GiB);

        var exception = Expect.Code("host-capacity", () => test.CreateQ35(memoryBytes: GiB));

        Assert.Equal(ErrorKind.Conflict, exception.Kind);
        Assert.Contains("host1", exception.Message, StringComparison.Ordinal);
        Assert.Equal(0, test.Host.ReservedBytes);
        Assert.Empty(test.Emulator.Vms);
    }

    [Fact]
    public void CreateVm_SecondVmDoesNotFit_RefusedUntilFirstIsDeleted()
    {
        using var test = new TestEmulator(capacityBytes: GiB);
        test.CreateQ35("first", 600 * MiB);
        var reservedByFirst = test.Host.ReservedBytes;

        Expect.Code("host-capacity", () => test.CreateQ35("second", 500 * MiB));
        Assert.Equal(reservedByFirst, test.Host.ReservedBytes);
        Assert.Single(test.Emulator.Vms);
    }

    [Fact]
    public async Task DeleteVmAsync_VmOnFullHost_ReleasesReservationSoAnotherFits()
    {
        using var test = new TestEmulator(capacityBytes: GiB);
        test.CreateQ35("first", 600 * MiB);
        Expect.Code("host-capacity", () => test.CreateQ35("second", 500 * MiB));

        await test.Emulator.DeleteVmAsync("first");

        Assert.Equal(0, test.Host.ReservedBytes);
        var second = test.CreateQ35("second", 500 * MiB);
        Assert.Equal(second.ReservedBytes, test.Host.ReservedBytes);
        Assert.Equal(["second"], test.Emulator.Vms.Select(v => v.Name));
    }

    [Fact]
    public void CreateVm_FailsAfterReserving_ReservationReleased()
    {
        using var test = new TestEmulator();

        // The workload is checked after the memory was reserved and the blocks were built.
        Expect.Code("invalid-working-set", () => test.CreateQ35(memoryBytes: 64 * MiB, workload: new WorkloadSpec(WorkloadKind.Uniform, 100, 128 * MiB)));

        Assert.Equal(0, test.Host.ReservedBytes);
        Assert.Empty(test.Emulator.Vms);
        test.CreateQ35(memoryBytes: 64 * MiB);
    }

    [Fact]
    public void CreateVm_StartTrue_Running()
    {
        using var test = new TestEmulator();

        var vm = test.CreateQ35(start: true);

        Assert.Equal(RunState.Running, vm.RunState);
    }

    [Fact]
    public void CreateVm_Created_RaisesVmAdded()
    {
        using var test = new TestEmulator();
        var changes = new List<(InventoryChangeKind, string)>();
        test.Emulator.InventoryChanged += (kind, name) => changes.Add((kind, name));

        test.CreateQ35("seen");

        Assert.Equal([(InventoryChangeKind.VmAdded, "seen")], changes);
    }

    [Fact]
    public void AddHost_DuplicateOrBadInput_Refused()
    {
        using var test = new TestEmulator();

        Expect.Code("host-exists", () => test.Emulator.AddHost(TestEmulator.HostName, GiB));
        Expect.Code("invalid-name", () => test.Emulator.AddHost("Host_2", GiB));
        Expect.Code("invalid-capacity", () => test.Emulator.AddHost("host2", 0));
        Assert.Single(test.Emulator.Hosts);
    }

    [Fact]
    public void GetVm_Unknown_VmNotFound()
    {
        using var test = new TestEmulator();

        Expect.Code("vm-not-found", () => test.Emulator.GetVm("nope"));
        Assert.False(test.Emulator.TryGetVm("nope", out _));
    }
}
