using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Design;
using VmConsole.Persistence.Records;

namespace VmConsole.Persistence;

/// <summary>The console's database: its own records and ASP.NET Core Identity's users and roles, in one SQLite file.</summary>
public sealed class ConsoleDbContext(DbContextOptions<ConsoleDbContext> options) : IdentityDbContext<IdentityUser>(options)
{
    public DbSet<HostRecord> Hosts => Set<HostRecord>();

    public DbSet<VmRecord> Vms => Set<VmRecord>();

    public DbSet<MigrationRecord> Migrations => Set<MigrationRecord>();

    public DbSet<MigrationEventRecord> MigrationEvents => Set<MigrationEventRecord>();

    public DbSet<ProgressSampleRecord> ProgressSamples => Set<ProgressSampleRecord>();

    public DbSet<MigrationLogRecord> MigrationLog => Set<MigrationLogRecord>();

    public DbSet<AuditRecord> AuditLog => Set<AuditRecord>();

    public DbSet<SessionRecord> Sessions => Set<SessionRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        base.OnModelCreating(modelBuilder);
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(ConsoleDbContext).Assembly);
    }

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite cannot order or compare DateTimeOffset; store UTC ticks instead.
        configurationBuilder.Properties<DateTimeOffset>().HaveConversion<Microsoft.EntityFrameworkCore.Storage.ValueConversion.DateTimeOffsetToBinaryConverter>();
    }
}

/// <summary>For `dotnet ef migrations add`: a context on a throwaway database file.</summary>
internal sealed class DesignTimeFactory : IDesignTimeDbContextFactory<ConsoleDbContext>
{
    public ConsoleDbContext CreateDbContext(string[] args) =>
        new(new DbContextOptionsBuilder<ConsoleDbContext>().UseSqlite("Data Source=design-time.db").Options);
}
