using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;
using VmConsole.Persistence.Records;

namespace VmConsole.Persistence.Configurations;

internal sealed class HostConfiguration : IEntityTypeConfiguration<HostRecord>
{
    public void Configure(EntityTypeBuilder<HostRecord> host)
    {
        host.ToTable("Hosts");
        host.HasKey(h => h.Name);
        host.Property(h => h.Name).HasMaxLength(63);
    }
}

internal sealed class VmConfiguration : IEntityTypeConfiguration<VmRecord>
{
    public void Configure(EntityTypeBuilder<VmRecord> vm)
    {
        vm.ToTable("Vms");
        vm.HasKey(v => v.Id);
        vm.HasIndex(v => v.Name).IsUnique();
        vm.Property(v => v.Name).HasMaxLength(63);
        vm.Property(v => v.Host).HasMaxLength(63);
        vm.Property(v => v.Machine).HasMaxLength(32);
        vm.Property(v => v.WorkloadKind).HasMaxLength(16);
        vm.Property(v => v.RunState).HasMaxLength(16);
        vm.Property(v => v.MainRamBackend).HasMaxLength(63);
        vm.OwnsMany(v => v.NumaNodes, node =>
        {
            node.ToTable("VmNumaNodes");
            node.WithOwner().HasForeignKey("VmId");
            node.HasKey("VmId", nameof(NumaNodeRecord.Node));
            node.Property(n => n.Node).ValueGeneratedNever();
            node.Property(n => n.Memdev).HasMaxLength(63);
        });
        vm.OwnsMany(v => v.Blocks, block =>
        {
            block.ToTable("VmRamBlocks");
            block.WithOwner().HasForeignKey("VmId");
            block.HasKey("VmId", nameof(RamBlockRecord.Position));
            block.Property(b => b.Position).ValueGeneratedNever();
            block.Property(b => b.IdStr).HasMaxLength(255);
            block.Property(b => b.BackendId).HasMaxLength(63);
        });
        vm.OwnsMany(v => v.Devices, device =>
        {
            device.ToTable("VmDevices");
            device.WithOwner().HasForeignKey("VmId");
            device.HasKey("VmId", nameof(DeviceRecord.DeviceId));
            device.Property(d => d.DeviceId).HasMaxLength(63);
            device.Property(d => d.Driver).HasMaxLength(32);
            device.Property(d => d.Memdev).HasMaxLength(63);
        });
        vm.OwnsMany(v => v.DeviceSections, section =>
        {
            section.ToTable("VmDeviceSections");
            section.WithOwner().HasForeignKey("VmId");
            section.HasKey("VmId", nameof(DeviceSectionRecord.Position));
            section.Property(s => s.Position).ValueGeneratedNever();
            section.Property(s => s.IdStr).HasMaxLength(255);
        });
    }
}

internal sealed class MigrationConfiguration : IEntityTypeConfiguration<MigrationRecord>
{
    public void Configure(EntityTypeBuilder<MigrationRecord> migration)
    {
        migration.ToTable("Migrations");
        migration.HasKey(m => m.Id);
        migration.Property(m => m.Id).HasMaxLength(32);
        migration.Property(m => m.Vm).HasMaxLength(63);
        migration.Property(m => m.Status).HasMaxLength(20);
        migration.Property(m => m.Direction).HasMaxLength(16).HasDefaultValue("outgoing");
        migration.HasIndex(m => m.Vm);
        migration.HasIndex(m => m.Status);
        migration.HasMany(m => m.Events).WithOne().HasForeignKey(e => e.MigrationId).OnDelete(DeleteBehavior.Cascade);
    }
}

internal sealed class MigrationEventConfiguration : IEntityTypeConfiguration<MigrationEventRecord>
{
    public void Configure(EntityTypeBuilder<MigrationEventRecord> e)
    {
        e.ToTable("MigrationEvents");
        e.HasKey(x => x.Id);
        e.Property(x => x.Status).HasMaxLength(20);
    }
}

internal sealed class ProgressSampleConfiguration : IEntityTypeConfiguration<ProgressSampleRecord>
{
    public void Configure(EntityTypeBuilder<ProgressSampleRecord> sample)
    {
        sample.ToTable("ProgressSamples");
        sample.HasKey(s => s.Id);
        sample.HasIndex(s => new { s.MigrationId, s.At });
        sample.HasOne<MigrationRecord>().WithMany().HasForeignKey(s => s.MigrationId).OnDelete(DeleteBehavior.Cascade);
    }
}

/// <summary>
/// A migration's task log. No foreign key: a line may be queued before its migration's row (two readers of one event
/// path), and the lines of a migration stay as long as its record.
/// </summary>
internal sealed class MigrationLogConfiguration : IEntityTypeConfiguration<MigrationLogRecord>
{
    public void Configure(EntityTypeBuilder<MigrationLogRecord> line)
    {
        line.ToTable("MigrationLog");
        line.HasKey(l => l.Id);
        line.Property(l => l.MigrationId).HasMaxLength(32);
        line.Property(l => l.Kind).HasMaxLength(16);
        line.Property(l => l.Text).HasMaxLength(2000);
        line.HasIndex(l => new { l.MigrationId, l.At });
    }
}

internal sealed class AuditConfiguration : IEntityTypeConfiguration<AuditRecord>
{
    public void Configure(EntityTypeBuilder<AuditRecord> audit)
    {
        audit.ToTable("AuditLog");
        audit.HasKey(a => a.Id);
        audit.HasIndex(a => a.At);
        audit.HasIndex(a => a.Vm);
        audit.Property(a => a.User).HasMaxLength(64);
        audit.Property(a => a.Action).HasMaxLength(200);
        audit.Property(a => a.Target).HasMaxLength(400);
        audit.Property(a => a.Code).HasMaxLength(64);
        audit.Property(a => a.Count).HasDefaultValue(1);
    }
}

internal sealed class SessionConfiguration : IEntityTypeConfiguration<SessionRecord>
{
    public void Configure(EntityTypeBuilder<SessionRecord> session)
    {
        session.ToTable("Sessions");
        session.HasKey(s => s.Id);
        session.HasIndex(s => s.UserId);
        session.Property(s => s.Id).HasMaxLength(64);
        session.Property(s => s.UserName).HasMaxLength(256);
        session.Property(s => s.Role).HasMaxLength(32);
    }
}
