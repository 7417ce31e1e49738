using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Qemu.Driver;

namespace VmConsole.Server.Domain;

/// <summary>
/// Asks each running QEMU VM for its dirty rate (QEMU's own <c>calc-dirty-rate</c>, one second of sampling) every few
/// seconds, in real time (QEMU runs in real time). VMs that migrate are measured too: query-migrate's
/// <c>dirty-pages-rate</c> is known only per dirty sync (none during the first pass), so the migration page shows this
/// live figure beside it (<see cref="LiveDirtyRate"/>); page sampling does not touch the migration's dirty log.
/// </summary>
public sealed partial class QemuDirtyRateMonitor(QemuDriver driver, ILogger<QemuDirtyRateMonitor> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, TimeProvider.System);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            foreach (var domain in driver.Domains.Where(d => d.RunState == RunState.Running))
            {
                try
                {
                    await domain.MeasureDirtyRateAsync(stoppingToken).ConfigureAwait(false);
                }
                catch (DomainException ex)
                {
                    // Gone, busy or refused meanwhile: its page says so; the next round tries again.
                    MeasureFailed(logger, domain.Name, ex.Message);
                }
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Dirty rate of QEMU VM {Vm} not measured: {Reason}")]
    private static partial void MeasureFailed(ILogger logger, string vm, string reason);
}
