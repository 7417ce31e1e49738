using System.Buffers.Binary;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>Acceptance point 6, its counting half: duplicate/normal pages and transferred bytes.</summary>
public sealed class MigrationStatsTests
{
    [Fact]
    public async Task Migrate_IdleVmWithKnownWrites_CountsZeroPagesAsDuplicateAndTheRestAsNormal()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 32);
        const int Written = 1000;
        for (var i = 0; i < Written; i++)
        {
            // Every seventh page, one non-zero byte somewhere in it.
            source.MainRam.Write((i * 7L * 4096) + (i % 4096), [(byte)(1 + (i % 255))]);
        }

        var blocks = source.RamBlocks.Where(b => b.Migratable).ToList();
        var nonZero = blocks.ToDictionary(b => b.IdStr, NonZeroPages, StringComparer.Ordinal);
        var firmwarePages = blocks.Where(b => b != source.MainRam).Sum(b => b.UsedPages);
        Assert.Equal(Written, nonZero["pc.ram"]);
        Assert.Equal(firmwarePages, nonZero.Where(e => e.Key != "pc.ram").Sum(e => e.Value));
        var totalPages = blocks.Sum(b => b.UsedPages);

        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Parameters = MigrationParameters.Default with { MaxBandwidth = 0 } });
        Assert.Equal(MigrationStatus.Completed, await EngineFixture.WaitFinishedAsync(migration));

        var stats = migration.GetStats();
        Assert.Equal(Written + firmwarePages, stats.Normal);
        Assert.Equal(totalPages - stats.Normal, stats.Duplicate);
        Assert.Equal(stats.Normal * 4096, stats.NormalBytes);
        Assert.Equal(blocks.Sum(b => b.UsedLength), stats.Total);
        Assert.Equal(0, stats.Remaining);
        // QEMU's count: the setup's bitmap sync, the one after the single pass, the one with the guest stopped.
        Assert.Equal(3, stats.DirtySyncCount);
        Assert.Equal(4096, stats.PageSize);
        Assert.Equal(stats.Transferred, stats.PrecopyBytes + stats.DowntimeBytes);

        // Each normal page costs at least its 4 KiB plus an 8-byte header; each zero page at least 9 bytes.
        Assert.True(stats.Transferred >= (stats.Normal * (4096 + 8)) + (stats.Duplicate * 9), $"{stats.Transferred} bytes");
        Assert.True(migration.Verified);
        fixture.AssertLegalHistory(migration);
    }

    [Fact]
    public async Task Migrate_ToFile_TransferredEqualsTheFileLengthAndTheSourceIsPostmigrate()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 32, new Emulation.Workloads.WorkloadSpec(Emulation.Workloads.WorkloadKind.Uniform, 5_000));
        EngineFixture.FillNonZero(source, 4 * Sizes.MiB);
        var file = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.mig");
        try
        {
            var migration = fixture.Engine.Start(new MigrationRequest("vm1") { Uri = "file:" + file, QemuCompatible = true });
            Assert.Equal(MigrationStatus.Completed, await EngineFixture.WaitFinishedAsync(migration));

            var stats = migration.GetStats();
            var bytes = await File.ReadAllBytesAsync(file);
            Assert.Equal(bytes.Length, stats.Transferred);
            Assert.Equal(stats.Transferred, stats.PrecopyBytes + stats.DowntimeBytes);
            Assert.Equal(0x5145564Du, BinaryPrimitives.ReadUInt32BigEndian(bytes));
            Assert.Equal(3u, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(4)));
            Assert.Equal(0, bytes[^1]);
            Assert.True(stats.Normal >= 1024 + 130, $"{stats.Normal} normal pages");
            Assert.Null(migration.Verified);
            Assert.Equal(file, migration.Uri![5..]);
            Assert.Same(source, fixture.Emulator.GetVm("vm1"));
            Assert.Equal(RunState.PostMigrate, source.RunState);
            Assert.False(source.Freeze.IsFrozen);
            fixture.AssertLegalHistory(migration);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static long NonZeroPages(Emulation.Blocks.RamBlock block)
    {
        var page = new byte[4096];
        long count = 0;
        for (long offset = 0; offset < block.UsedLength; offset += page.Length)
        {
            block.Read(offset, page);
            count += page.AsSpan().ContainsAnyExcept((byte)0) ? 1 : 0;
        }

        return count;
    }
}
