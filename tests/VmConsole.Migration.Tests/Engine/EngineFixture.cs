using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>An emulator with two hosts and a migration engine, torn down after each test.</summary>
public sealed class EngineFixture : IAsyncDisposable
{
    public EngineFixture()
    {
        Emulator.AddHost("host-a", 64 * Sizes.GiB);
        Emulator.AddHost("host-b", 64 * Sizes.GiB);
        Engine = new MigrationEngine(Emulator);
    }

    public Emulator Emulator { get; } = new();

    public MigrationEngine Engine { get; }

    public Vm CreateVm(string name, long memoryMiB, WorkloadSpec? workload = null, string machine = "q35", bool start = true) =>
        Emulator.CreateVm(new VmDefinition(name, "host-a", machine, memoryMiB * Sizes.MiB) { Workload = workload ?? WorkloadSpec.Idle, Start = start });

    public static async Task<MigrationStatus> WaitFinishedAsync(VmConsole.Migration.Engine.Migration migration, TimeSpan? within = null)
    {
        await migration.Finished.WaitAsync(within ?? TimeSpan.FromSeconds(60));
        return migration.Status;
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        Emulator.Dispose();
    }
}
