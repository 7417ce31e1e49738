using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Persistence.Records;

namespace VmConsole.Persistence.Tests;

public sealed class ConsoleDbContextTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("vmconsole-db-");

    [Fact]
    public void Model_CommittedMigrations_CoverEveryChange()
    {
        using var db = Open(Path.Combine(_folder.FullName, "model.db"));

        Assert.False(db.Database.HasPendingModelChanges(), "The model changed without a migration: run `dotnet ef migrations add` in src/VmConsole.Persistence.");
    }

    [Fact]
    public async Task MigrateAsync_FreshFile_CreatesTheTablesInWalMode()
    {
        var file = Path.Combine(_folder.FullName, "fresh.db");
        var services = new ServiceCollection().AddConsolePersistence($"Data Source={file}").BuildServiceProvider();
        var factory = services.GetRequiredService<IDbContextFactory<ConsoleDbContext>>();

        await factory.MigrateAsync(CancellationToken.None);

        await using var db = await factory.CreateDbContextAsync();
        Assert.Empty(await db.Database.GetPendingMigrationsAsync());
        var connection = db.Database.GetDbConnection();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync());
    }

    /// <summary>Migrations recorded before they had a direction: those from QEMU (source "qemu") become incoming, the rest outgoing.</summary>
    [Fact]
    public async Task MigrateAsync_MigrationsRecordedBeforeTheirDirection_GetItFromTheirSource()
    {
        var file = Path.Combine(_folder.FullName, "directions.db");
        await using (var db = Open(file))
        {
            await db.GetService<Microsoft.EntityFrameworkCore.Migrations.IMigrator>().MigrateAsync("20261202085523_Sessions");
            foreach (var (id, source) in new[] { ("mig-from-qemu", "qemu"), ("mig-to-host", "host-a") })
            {
                await db.Database.ExecuteSqlAsync($"INSERT INTO Migrations (Id, Vm, SourceHost, Status, ParametersJson, CapabilitiesJson, StartedAt) VALUES ({id}, 'vm1', {source}, 'completed', '{{}}', '{{}}', '2026-12-01 10:00:00+00:00')");
            }

            await db.Database.MigrateAsync();
        }

        await using var after = Open(file);
        Assert.Equal(
            [("mig-from-qemu", "incoming"), ("mig-to-host", "outgoing")],
            (await after.Migrations.OrderBy(m => m.Id).Select(m => new { m.Id, m.Direction }).ToListAsync()).Select(m => (m.Id, m.Direction)));
    }

    [Fact]
    public async Task Vm_WithBlocksAndDevices_RoundTrips()
    {
        var file = Path.Combine(_folder.FullName, "roundtrip.db");
        var services = new ServiceCollection().AddConsolePersistence($"Data Source={file}").BuildServiceProvider();
        var factory = services.GetRequiredService<IDbContextFactory<ConsoleDbContext>>();
        await factory.MigrateAsync(CancellationToken.None);
        var id = Guid.NewGuid();
        await using (var db = await factory.CreateDbContextAsync())
        {
            db.Vms.Add(new VmRecord
            {
                Id = id, Name = "db-1", Host = "host-a", Machine = "q35", MemoryBytes = 1L << 30, Slots = 4, MaxMemBytes = 4L << 30,
                WorkloadKind = "Idle", RunState = "running",
                LastBlockId = 12,
                Blocks = [new() { Position = 0, BlockId = 1, IdStr = "pc.ram", UsedLength = 1L << 30, MaxLength = 1L << 30, Migratable = true }, new() { Position = 1, BlockId = 9, BackendId = "dimm0", UsedLength = 1L << 28, MaxLength = 1L << 28, Migratable = true }],
                Devices = [new() { DeviceId = "dimm0-dev", Driver = "pc-dimm", Memdev = "dimm0" }],
            });
            await db.SaveChangesAsync();
        }

        await using var again = await factory.CreateDbContextAsync();
        var vm = await again.Vms.SingleAsync(v => v.Id == id);
        Assert.Equal(["pc.ram", ""], vm.Blocks.OrderBy(b => b.Position).Select(b => b.IdStr));
        Assert.Equal("dimm0", vm.Blocks.Single(b => b.Position == 1).BackendId);
        Assert.Equal([1, 9], vm.Blocks.OrderBy(b => b.Position).Select(b => b.BlockId));
        Assert.Equal(12, vm.LastBlockId);
        Assert.Equal("dimm0", Assert.Single(vm.Devices).Memdev);
    }

    [Fact]
    public async Task Vm_WithDeviceSections_BytesAndOrderRoundTrip()
    {
        var file = Path.Combine(_folder.FullName, "devstate.db");
        var services = new ServiceCollection().AddConsolePersistence($"Data Source={file}").BuildServiceProvider();
        var factory = services.GetRequiredService<IDbContextFactory<ConsoleDbContext>>();
        await factory.MigrateAsync(CancellationToken.None);
        var id = Guid.NewGuid();
        byte[] cpu = [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 31))];
        await using (var db = await factory.CreateDbContextAsync())
        {
            db.Vms.Add(new VmRecord
            {
                Id = id, Name = "from-qemu", Host = "host-a", Machine = "pc", MemoryBytes = 64L << 20, WorkloadKind = "Idle", RunState = "running",
                DeviceStateFields = """{"page_size":4096}""",
                DeviceSections =
                [
                    new() { Position = 1, IdStr = "cpu", InstanceId = 0, VersionId = 12, State = cpu, Description = """{"name":"cpu"}""" },
                    new() { Position = 0, IdStr = "timer", InstanceId = 0, VersionId = 2, State = [0, 0xFF], Description = """{"name":"timer"}""" },
                ],
            });
            await db.SaveChangesAsync();
        }

        await using var again = await factory.CreateDbContextAsync();
        var vm = await again.Vms.SingleAsync(v => v.Id == id);
        Assert.Equal("""{"page_size":4096}""", vm.DeviceStateFields);
        var sections = vm.DeviceSections.OrderBy(s => s.Position).ToList();
        Assert.Equal(["timer", "cpu"], sections.Select(s => s.IdStr));
        Assert.Equal(cpu, sections[1].State);
        Assert.Equal((12L, """{"name":"cpu"}"""), (sections[1].VersionId, sections[1].Description));
    }

    [Fact]
    public void ResolveSqliteFile_RelativeName_IsUnderTheBaseDirectoryWhichIsCreated()
    {
        var resolved = PersistenceSetup.ResolveSqliteFile("Data Source=data/vmconsole.db", _folder.FullName);

        var expected = Path.Combine(_folder.FullName, "data", "vmconsole.db");
        Assert.Equal(expected, new SqliteConnectionStringBuilder(resolved).DataSource);
        Assert.True(Directory.Exists(Path.Combine(_folder.FullName, "data")));
    }

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        _folder.Delete(recursive: true);
    }

    private static ConsoleDbContext Open(string file) =>
        new(new DbContextOptionsBuilder<ConsoleDbContext>().UseSqlite($"Data Source={file}").Options);
}
