using Microsoft.Extensions.Options;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Server.Emulation;

/// <summary>Creates the configured demo hosts and VMs before the console takes requests.</summary>
internal sealed class EmulatorSeeder(Emulator emulator, IOptions<EmulatorOptions> options, ILogger<EmulatorSeeder> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        var seed = options.Value.Seed;
        if (!seed.Enabled)
        {
            return Task.CompletedTask;
        }

        foreach (var host in seed.Hosts)
        {
            emulator.AddHost(host.Name, host.MemoryGiB * GiB);
        }

        foreach (var spec in seed.Vms)
        {
            var vm = emulator.CreateVm(new VmDefinition(spec.Name, spec.Host, spec.Machine, spec.MemoryMiB * MiB)
            {
                Slots = spec.Slots,
                MaxMemBytes = spec.MaxMemMiB * MiB,
            });
            foreach (var backend in spec.Backends)
            {
                vm.AddMemoryBackend(backend.Id, backend.SizeMiB * MiB);
                if (backend.Dimm is { } dimm)
                {
                    vm.PlugDimm(dimm, backend.Id);
                }
            }

            if (spec.Workload != WorkloadKind.Idle)
            {
                vm.SetWorkload(new WorkloadSpec(spec.Workload, spec.PagesPerSecond));
            }

            if (spec.Start)
            {
                vm.Start();
            }
        }

        ConsoleLog.Seeded(logger, seed.Hosts.Count, seed.Vms.Count);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
