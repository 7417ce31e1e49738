using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Persistence;
using VmConsole.Persistence.Records;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Tests;

/// <summary>A console of its own per test (seeded inventory, temporary database) and an HTTP client signed in as its admin.</summary>
public abstract class SignedInApiTest : IAsyncLifetime
{
    protected ConsoleFactory Factory { get; } = new();

    /// <summary>Signed in as the bootstrap admin.</summary>
    protected HttpClient Admin { get; private set; } = null!;

    public async Task InitializeAsync() => Admin = await Factory.CreateSignedInClientAsync();

    /// <summary>The audit log's stored lines about <paramref name="target"/>, oldest first, once what was queued is written.</summary>
    protected async Task<List<AuditRecord>> AuditAsync(string target)
    {
        await Factory.Services.GetRequiredService<ConsoleStore>().FlushAsync();
        await using var db = await Factory.Services.GetRequiredService<IDbContextFactory<ConsoleDbContext>>().CreateDbContextAsync();
        return await db.AuditLog.AsNoTracking().Where(a => a.Target == target).OrderBy(a => a.Id).ToListAsync();
    }

    public async Task DisposeAsync()
    {
        Admin.Dispose();
        await Factory.DisposeAsync();
    }
}
