using VmConsole.Emulation;
using VmConsole.Emulation.Hosts;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.TestSupport;

/// <summary>An emulator with roomy hosts (one, <see cref="HostName"/>, unless the test names them), disposed with the test.</summary>
public sealed class TestEmulator : IDisposable
{
    public const string HostName = "host1";

    /// <param name="time">The emulator's clock (guest pacing, dirty-rate sampling, teardown waits); the system's by default.</param>
    public TestEmulator(long capacityBytes = 64 * GiB, TimeProvider? time = null)
        : this([HostName], capacityBytes, time)
    {
    }

    /// <param name="hosts">The hosts' names, each with <paramref name="capacityBytes"/>; the first is <see cref="Host"/>.</param>
    /// <param name="capacityBytes">Each host's memory.</param>
    /// <param name="time">The emulator's clock; the system's by default.</param>
    public TestEmulator(IReadOnlyList<string> hosts, long capacityBytes = 64 * GiB, TimeProvider? time = null)
    {
        Emulator = new Emulator(time);
        Host = hosts.Select(name => Emulator.AddHost(name, capacityBytes)).ToList()[0];
    }

    public Emulator Emulator { get; }

    /// <summary>The first host.</summary>
    public Host Host { get; }

    public static VmDefinition Definition(string name = "vm1", string machine = "q35", long memoryBytes = 512 * MiB) =>
        new(name, HostName, machine, memoryBytes);

    public Vm CreateQ35(string name = "vm1", long memoryBytes = 512 * MiB, int slots = 0, long maxMemBytes = 0, WorkloadSpec? workload = null, bool start = false) =>
        Emulator.CreateVm(Definition(name, "q35", memoryBytes) with
        {
            Slots = slots,
            MaxMemBytes = maxMemBytes,
            Workload = workload ?? WorkloadSpec.Idle,
            Start = start,
        });

    /// <summary>A q35 VM with 4 DIMM slots and maxmem 2 GiB, for memory-device tests.</summary>
    public Vm CreateHotplugQ35(string name = "vm1") => CreateQ35(name, 512 * MiB, slots: 4, maxMemBytes: 2 * GiB);

    public void Dispose() => Emulator.Dispose();
}
