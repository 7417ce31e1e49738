using System.Security.Claims;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Persistence;
using VmConsole.Server.Components;
using VmConsole.Server.Events;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Tests.Components;

/// <summary>The UI's actions tell the user the outcome only once the change and its audit line are committed.</summary>
public sealed class ConsoleActionsTests : PersistedConsoleContext
{
    [Fact]
    public async Task RunAsync_WriterNotYetCommitting_ReportsOutcomeOnlyOnceCommitted()
    {
        var contexts = Services.GetRequiredService<IDbContextFactory<ConsoleDbContext>>();
        // A writer of its own, not started yet: nothing it is given commits until it starts.
        using var held = new ConsoleStore(contexts, NullLogger<ConsoleStore>.Instance);
        var recorder = new ConsoleRecorder(Emulator, held, TimeProvider.System);
        await recorder.StartAsync(CancellationToken.None);
        using var bus = new ConsoleEventBus(new VmConsole.Emulation.Drivers.VmInventory([Emulator]), Engine.Registry, [recorder], TimeProvider.System, NullLogger<ConsoleEventBus>.Instance);
        await bus.StartAsync(CancellationToken.None);
        using var log = new ActionLog(bus, TimeProvider.System, Microsoft.Extensions.Options.Options.Create(new VmConsole.Server.Accounts.RateLimitOptions()));
        var actions = new ConsoleActions(log);
        var admin = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, "admin")], "test"));
        var definition = new VmDefinition("kept-1", "host-a", "microvm", 16 * Sizes.MiB);
        try
        {
            var created = actions.RunAsync(admin, "Created VM kept-1", "kept-1", "kept-1", () => { Emulator.CreateVm(definition); });
            var refused = actions.RunAsync(admin, "Created VM kept-1", "kept-1", "kept-1", () => { Emulator.CreateVm(definition); });

            Assert.False(created.IsCompleted, "the creation was reported before it was committed");
            Assert.False(refused.IsCompleted, "the refusal was reported before its audit line was committed");
            await held.StartAsync(CancellationToken.None);
            Assert.Null(await created.WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal("vm-exists", (await refused.WaitAsync(TimeSpan.FromSeconds(30)))?.Code);

            await using var db = await contexts.CreateDbContextAsync();
            Assert.True(await db.Vms.AnyAsync(v => v.Name == "kept-1"));
            Assert.Equal([true, false], (await db.AuditLog.Where(a => a.Target == "kept-1").OrderBy(a => a.Id).Select(a => a.Allowed).ToListAsync()));
        }
        finally
        {
            await bus.StopAsync(CancellationToken.None);
            await recorder.StopAsync(CancellationToken.None);
            await held.StopAsync(CancellationToken.None);
        }
    }
}
