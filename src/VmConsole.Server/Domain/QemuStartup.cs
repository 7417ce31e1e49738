using Microsoft.Extensions.Options;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Qemu.Driver;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Server.Domain;

/// <summary>
/// At start, re-attaches to every QEMU VM whose process still runs (the rest are shown shut off, with why), then seeds
/// the configured QEMU VMs once, the first time QEMU is found; at stop, lets go of the monitors and leaves the
/// processes running (they outlive the console).
/// </summary>
internal sealed partial class QemuStartup(QemuDriver driver, VmConsole.Migration.Model.MigrationRegistry migrations, IOptions<QemuOptions> options, ILogger<QemuStartup> logger) : IHostedService
{
    private const string SeededMarker = ".seeded";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var host in driver.Hosts.Where(h => h.UnavailableReason is not null))
        {
            Unavailable(logger, host.Name, host.UnavailableReason!);
        }

        var followed = await driver.LoadAsync(migrations, cancellationToken);
        if (driver.Domains.Count > 0)
        {
            Attached(logger, driver.Domains.Count(d => d.Running is not null), driver.Domains.Count);
        }

        foreach (var migration in followed)
        {
            Followed(logger, migration.Id, migration.VmName, migration.Status.ToQemuName());
        }

        await SeedAsync(options.Value.Seed, cancellationToken);
    }

    public async Task StopAsync(CancellationToken cancellationToken) => await driver.DisposeAsync();

    private async Task SeedAsync(QemuSeedOptions seed, CancellationToken cancellationToken)
    {
        if (!seed.Enabled || seed.Vms.Count == 0)
        {
            return;
        }

        foreach (var spec in seed.Vms)
        {
            var host = driver.GetHost(spec.Host);
            var marker = Path.Combine(host.RuntimeDirectory, SeededMarker);
            if (host.UnavailableReason is not null || File.Exists(marker) || driver.IsNameTaken(spec.Name))
            {
                continue;
            }

            try
            {
                await driver.CreateVirtualMachineAsync(
                    new VmDefinition(spec.Name, spec.Host, spec.Machine, spec.MemoryMiB * MiB)
                    {
                        Slots = spec.Slots,
                        MaxMemBytes = spec.MaxMemMiB * MiB,
                        Guest = spec.Guest,
                        Start = spec.Start,
                    },
                    cancellationToken);
                Seeded(logger, spec.Name, spec.Host);
            }
            catch (DomainException ex)
            {
                // A seed that QEMU refuses on this machine is logged, never a console that does not start.
                SeedFailed(logger, spec.Name, ex.Message);
            }

            Directory.CreateDirectory(host.RuntimeDirectory);
            await File.WriteAllTextAsync(marker, "The console seeded this host's demo VMs once; delete this file to seed them again.\n", cancellationToken);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "QEMU host {Host} is unavailable: {Reason}")]
    private static partial void Unavailable(ILogger logger, string host, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Re-attached to {Running} running QEMU VM(s) of {Total} defined")]
    private static partial void Attached(ILogger logger, int running, int total);

    [LoggerMessage(Level = LogLevel.Information, Message = "Following migration {Id} of QEMU VM {Vm} again ({Status}): it ran on while the console was away")]
    private static partial void Followed(ILogger logger, string id, string vm, string status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded QEMU VM {Vm} on {Host}")]
    private static partial void Seeded(ILogger logger, string vm, string host);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The seeded QEMU VM {Vm} was not created: {Reason}")]
    private static partial void SeedFailed(ILogger logger, string vm, string reason);
}
