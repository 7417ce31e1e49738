using System.IO.Pipelines;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Tests.Wire;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>The source half of precopy on its own, where a test can stand between two of its steps.</summary>
public sealed class PrecopySenderTests
{
    /// <summary>
    /// Vm.GuestResize grows a block and marks its new pages dirty, then cancels the migration. A sender that syncs in
    /// between (here: it never looks at the token) must not name a page beyond the used_length it announced: the
    /// destination was never told of it, and the outcome must be the cancel, not an ArgumentOutOfRange.
    /// </summary>
    [Fact]
    public async Task Sync_BlockGrewBeforeTheSenderSawTheCancel_SendsOnlyTheAnnouncedPages()
    {
        using var emulator = new Emulator();
        emulator.AddHost("host-a", Sizes.GiB);
        var vm = emulator.CreateVm(new VmDefinition("vm1", "host-a", "microvm", 16 * Sizes.MiB) { Start = true });
        var tables = vm.RamBlocks.Single(b => b.IdStr == "/rom@etc/acpi/tables");
        Assert.Equal(4 * Sizes.KiB, tables.UsedLength);
        var total = vm.RamBlocks.Where(b => b.Migratable).Sum(b => b.UsedLength);
        var migration = new PrecopyMigration("mig-sender", vm, null, "file:/dev/null", MigrationParameters.Default with { MaxBandwidth = 0 }, MigrationCapabilities.Default, total, TimeProvider.System);
        using var lease = vm.Freeze.Acquire(migration);
        var pipe = new Pipe();
        var received = new RecordingSink();
        var reading = new MigrationStreamReader(pipe.Reader, received).ReadToEndAsync(CancellationToken.None);
        var sender = new PrecopySender(migration, vm, lease, pipe.Writer, TimeProvider.System);
        await sender.SetupAsync(CancellationToken.None);

        vm.GuestResize(tables.Id, 64 * Sizes.KiB);
        await sender.CompleteAsync(qemuCompatible: true, [], CancellationToken.None);
        await reading;

        Assert.Equal(MigrationStatus.Cancelling, migration.Status);
        Assert.Equal("RAM block '/rom@etc/acpi/tables' resized during precopy.", migration.ErrorDesc);
        var index = received.Events.Single(e => e.StartsWith("blocks ", StringComparison.Ordinal))["blocks ".Length..].Split(" | ")
            .ToList().FindIndex(b => b.StartsWith("/rom@etc/acpi/tables=", StringComparison.Ordinal));
        var pagesOfTables = received.Events.Where(e => e.StartsWith($"page {index} ", StringComparison.Ordinal) || e.StartsWith($"zero {index} ", StringComparison.Ordinal)).ToList();
        Assert.Equal([$"0x0"], pagesOfTables.Select(e => e.Split(' ')[2]));
        var progress = migration.GetBlockProgress().Single(b => b.IdStr == "/rom@etc/acpi/tables");
        Assert.Equal(new BlockProgress("/rom@etc/acpi/tables", 4 * Sizes.KiB, 4 * Sizes.KiB, 0), progress);
    }
}
