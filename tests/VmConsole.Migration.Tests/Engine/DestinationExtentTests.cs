using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// The destination's two shortcuts: extents received whole go into memory on writer threads, and pages
/// that were never backed on either end stay unbacked. Neither may change a byte of what arrives.
/// </summary>
public sealed class DestinationExtentTests
{
    private const int Page = 4096;
    private const long Extent = 2 * Sizes.MiB;

    [Fact]
    public async Task Migrate_WholeBrokenAndZeroExtents_VerifiedAndZeroExtentsStayUnbacked()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 32, machine: "microvm");
        WriteLayout(source);

        // Reading the source backs its zero extents with the kernel's zero page: that must not back the destination's.
        var hash = EngineFixture.HashMigratable(source);

        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Parameters = MigrationParameters.Default with { MaxBandwidth = 0 } });

        Assert.Equal(MigrationStatus.Completed, await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(30)));
        Assert.True(migration.Verified);
        var destination = fixture.Emulator.GetVm("vm1");
        Assert.Equal("host-b", destination.Host.Name);

        // Before anything reads them (a read maps the kernel's zero page in).
        using (var memory = destination.MainRam.AcquireMemory())
        {
            var untouched = new ulong[Extent / Page / 64];
            if (memory.TryGetUntouched(2 * Extent, (int)(Extent / Page), untouched))
            {
                Assert.All(untouched, word => Assert.Equal(ulong.MaxValue, word));
                Assert.True(memory.TryGetUntouched(7 * Extent, (int)(Extent / Page), untouched));
                Assert.All(untouched, word => Assert.Equal(ulong.MaxValue, word));
            }
        }

        Assert.Equal(hash, EngineFixture.HashMigratable(destination));
    }

    /// <summary>
    /// Extents 0 and 1: whole (adjoining). Extent 2: zero. Extent 3: whole but for one zero page in its
    /// middle. Extent 4: starts with a zero page. Extent 5: only its first half. Extents 6 and 7: zero but for a page of
    /// all zeros written into 6 (backed, still a zero record).
    /// </summary>
    private static void WriteLayout(Vm vm)
    {
        var ram = vm.MainRam;
        var page = new byte[Page];
        void Write(long offset, byte value)
        {
            Array.Fill(page, value);
            page[0] = (byte)(offset / Page);
            ram.Write(offset, page);
        }

        for (long offset = 0; offset < 2 * Extent; offset += Page)
        {
            Write(offset, 0x11);
        }

        for (long offset = 3 * Extent; offset < 4 * Extent; offset += Page)
        {
            if (offset != (3 * Extent) + (100 * Page))
            {
                Write(offset, 0x33);
            }
        }

        for (long offset = (4 * Extent) + Page; offset < 5 * Extent; offset += Page)
        {
            Write(offset, 0x44);
        }

        for (long offset = 5 * Extent; offset < (5 * Extent) + (Extent / 2); offset += Page)
        {
            Write(offset, 0x55);
        }

        ram.Write((6 * Extent) + (7 * Page), new byte[Page]);
    }

    [Fact]
    public async Task Migrate_SweepOverWholeExtents_ResentPagesLandAfterTheirExtent()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 32, new Emulation.Workloads.WorkloadSpec(Emulation.Workloads.WorkloadKind.Sweep, 20_000), machine: "microvm");
        EngineFixture.FillNonZero(source, 32 * Sizes.MiB);

        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Parameters = MigrationParameters.Default with { MaxBandwidth = 0 } });

        Assert.Equal(MigrationStatus.Completed, await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(60)));
        Assert.True(migration.Verified, EngineFixture.Describe(migration));
    }
}
