using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Qemu.Guests;
using VmConsole.Qemu.Processes;

namespace VmConsole.Benchmarks.Qemu;

/// <summary>
/// One QEMU-to-QEMU migration, timed on this process's Stopwatch from the moment the destination is started (t0):
/// when <c>migrate</c> was accepted, when the driver saw <c>completed</c>, when it was done (the source quit: what
/// the console does before it says completed), and QEMU's own numbers from the source's last <c>query-migrate</c>.
/// </summary>
/// <param name="SetupMs">t0 to <c>migrate</c> accepted: starting the destination, capabilities, parameters, migrate-incoming.</param>
/// <param name="NoticedMs">t0 to the first moment the driver knew the migration had completed.</param>
/// <param name="DoneMs">t0 to the end: completed seen and the postmigrate source gone.</param>
/// <param name="QemuTotalTimeMs">
/// The source's <c>total-time</c>: from <c>migrate</c> to completion, on QEMU's clock; 0 when unknown (QEMU 7.2 can answer
/// <c>completed</c> before it has filled total-time and downtime in, and the console keeps the first completed answer).
/// </param>
/// <param name="NormalPages">Pages sent whole (<c>ram.normal</c>).</param>
/// <param name="DuplicatePages">Zero pages sent as such (<c>ram.duplicate</c>).</param>
internal sealed record MigrationRun(double SetupMs, double NoticedMs, double DoneMs, long QemuTotalTimeMs, long NormalPages, long DuplicatePages)
{
    /// <summary>How long after QEMU completed the driver noticed: from <c>migrate</c> accepted to noticed, less QEMU's total-time.</summary>
    public double NoticeLagMs => QemuTotalTimeMs > 0 ? NoticedMs - SetupMs - QemuTotalTimeMs : double.NaN;

    /// <summary>
    /// The wall time that is the driver's and not QEMU's transfer: everything but the source's total-time (setup,
    /// noticing, wrap-up, and the moments between migrate's answer and QEMU's clock starting).
    /// </summary>
    public double DriverMs => QemuTotalTimeMs > 0 ? DoneMs - QemuTotalTimeMs : double.NaN;

    /// <summary>From noticed to done: quitting the source (and, for the console, refreshing the destination).</summary>
    public double WrapUpMs => DoneMs - NoticedMs;
}

/// <summary>What is migrated: the VM both drivers start, and what is done to it before the clock starts.</summary>
/// <param name="Label">Short name for the table.</param>
/// <param name="Spec">The source (the destination is the same with <c>-incoming defer</c>).</param>
/// <param name="RunFor">How long the source runs before the migration.</param>
/// <param name="PauseFirst">Whether the source is stopped before the migration (then nothing dirties memory during it).</param>
internal sealed record MigrationWorkload(string Label, QemuVmSpec Spec, TimeSpan RunFor, bool PauseFirst)
{
    public const long MemoryBytes = Sizes.GiB;

    /// <summary>Both ends get this: far above what a unix socket carries, so that neither is paced by QEMU's 32 MiB/s default.</summary>
    public const long MaxBandwidth = 1L << 40;

    /// <summary>QEMU's and the console's default.</summary>
    public static long DowntimeLimit => MigrationParameters.Default.DowntimeLimit;

    /// <summary>
    /// A 1 GiB pc with firmware only, running: SeaBIOS finds nothing to boot and waits, so almost every page is a zero
    /// page and nothing dirties memory (the steadiest case; what is left is each driver's own overhead).
    /// </summary>
    public static MigrationWorkload Firmware { get; } =
        new("1 GiB pc, firmware only, running", new QemuVmSpec("mig-src", "pc", MemoryBytes), TimeSpan.FromSeconds(1), PauseFirst: false);

    /// <summary>
    /// A 1 GiB pc whose sweep guest has written the first byte of (nearly) every page for a few seconds, then stopped:
    /// about a gigabyte of non-zero pages crosses the socket, and nothing dirties it meanwhile (two cores here: a running
    /// TCG vCPU would take one from the migration and make the figures wander).
    /// </summary>
    public static MigrationWorkload Filled { get; } =
        new("1 GiB pc, sweep-filled, paused", new QemuVmSpec("mig-src", "pc", MemoryBytes) { Guest = SweepGuest.For(MemoryBytes) }, TimeSpan.FromSeconds(4), PauseFirst: true);
}
