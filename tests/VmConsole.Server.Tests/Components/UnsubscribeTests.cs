using System.Reflection;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Server.Components.Layout;
using VmConsole.Server.Components.Pages;
using VmConsole.Server.Domain;

namespace VmConsole.Server.Tests.Components;

/// <summary>After DisposeComponentsAsync no event of the inventory, a VM, the engine, a migration or the recorder still holds a handler of the component.</summary>
public sealed class UnsubscribeTests : PersistedConsoleContext
{
    public UnsubscribeTests() => Emulator.AddHost("host-b", 8 * Sizes.GiB);

    private DirtyRateSampler Sampler => Services.GetRequiredService<DirtyRateSampler>();

    // Pages follow the one inventory of both drivers, and each VM through the face every driver fills (StateChanged).
    private VmConsole.Emulation.Drivers.VmInventory Inventory => Services.GetRequiredService<VmConsole.Emulation.Drivers.VmInventory>();

    [Fact]
    public async Task VmsPage_Disposed_LeavesNoHandler()
    {
        var vm = CreateVm("vm1");
        var cut = Render<VmsPage>();
        var sources = new (object, string)[] { (Inventory, "InventoryChanged"), (Sampler, "Sampled"), (vm, "StateChanged") };
        var component = cut.Instance;
        AssertSubscribed(component, sources);

        await DisposeComponentsAsync();

        await AssertUnsubscribedAsync(component, sources);
    }

    [Fact]
    public async Task NavMenu_Disposed_LeavesNoHandler()
    {
        var vm = CreateVm("vm1");
        var cut = Render<NavMenu>();
        var sources = new (object, string)[] { (Inventory, "InventoryChanged"), (vm, "StateChanged") };
        var component = cut.Instance;
        AssertSubscribed(component, sources);

        await DisposeComponentsAsync();

        await AssertUnsubscribedAsync(component, sources);
    }

    [Fact]
    public async Task MigratingBadge_Disposed_LeavesNoHandler()
    {
        var migration = StartHeldMigration("vm1");
        var cut = Render<VmConsole.Server.Components.Shared.MigratingBadge>(p => p.Add(c => c.VmName, "vm1"));
        var sources = new (object, string)[] { (Engine.Registry, "Started"), (migration, "StatusChanged") };
        var component = cut.Instance;
        AssertSubscribed(component, sources);

        await DisposeDirectlyAsync(cut);

        await AssertUnsubscribedAsync(component, sources);
        await EndAsync(migration);
    }

    [Fact]
    public async Task AuditPage_Disposed_LeavesNoHandler()
    {
        var cut = Render<AuditPage>();
        var sources = new (object, string)[] { (Recorder, "Appended") };
        var component = cut.Instance;
        cut.WaitForAssertion(() => AssertSubscribed(component, sources));

        await DisposeComponentsAsync();

        await AssertUnsubscribedAsync(component, sources);
    }

    [Fact]
    public async Task Overview_Disposed_LeavesNoHandler()
    {
        var migration = StartHeldMigration("vm1");
        var vm2 = CreateVm("vm2");
        var cut = Render<Overview>();
        var sources = new (object, string)[]
        {
            (Inventory, "InventoryChanged"), (Sampler, "Sampled"), (vm2, "StateChanged"), (Engine.Registry, "Started"), (migration, "Progress"), (migration, "StatusChanged"),
        };
        var component = cut.Instance;
        AssertSubscribed(component, sources);

        await DisposeDirectlyAsync(cut);

        await AssertUnsubscribedAsync(component, sources);
        await EndAsync(migration);
    }

    [Fact]
    public async Task MigrationsPage_Disposed_LeavesNoHandler()
    {
        var cut = Render<MigrationsPage>();
        var migration = StartHeldMigration("vm1");
        var sources = new (object, string)[] { (Engine.Registry, "Started"), (migration, "StatusChanged") };
        var component = cut.Instance;
        cut.WaitForAssertion(() => AssertSubscribed(component, sources));

        await DisposeDirectlyAsync(cut);

        await AssertUnsubscribedAsync(component, sources);
        await EndAsync(migration);
    }

    [Fact]
    public async Task MigrationPage_Disposed_LeavesNoHandler()
    {
        var migration = StartHeldMigration("vm1");
        var cut = Render<MigrationPage>(p => p.Add(c => c.Id, migration.Id));
        var sources = new (object, string)[] { (migration, "Progress"), (migration, "StatusChanged") };
        var component = cut.Instance;
        cut.WaitForAssertion(() => AssertSubscribed(component, sources));

        await DisposeDirectlyAsync(cut);

        await AssertUnsubscribedAsync(component, sources);
        await EndAsync(migration);
    }

    /// <summary>
    /// Disposes the page itself, on the renderer's context. With a live migration on the page, bUnit's
    /// DisposeComponentsAsync now and then returns without disposing it (seen with no unhandled exception); what
    /// these tests check is the page's own Dispose, which the Blazor renderer calls in the app.
    /// </summary>
    private static Task DisposeDirectlyAsync<T>(IRenderedComponent<T> cut)
        where T : IComponent, IDisposable =>
        cut.InvokeAsync(() => cut.Instance.Dispose());

    /// <summary>A migration that stays in pre-switchover until cancelled.</summary>
    private VmConsole.Migration.Engine.PrecopyMigration StartHeldMigration(string vm)
    {
        CreateVm(vm, memoryMiB: 16);
        return Engine.Start(new MigrationRequest(vm) { DestinationHost = "host-b", Capabilities = MigrationCapabilities.Default with { PauseBeforeSwitchover = true } });
    }

    private static async Task EndAsync(VmConsole.Migration.Engine.PrecopyMigration migration)
    {
        migration.Cancel();
        await migration.Finished.WaitAsync(TimeSpan.FromSeconds(20));
    }

    private static void AssertSubscribed(IComponent component, (object Source, string Event)[] sources)
    {
        foreach (var (source, name) in sources)
        {
            Assert.True(HandlersOf(source, name).Any(d => IsFrom(d, component)), $"{component.GetType().Name} should have subscribed {source.GetType().Name}.{name}");
        }
    }

    /// <summary>
    /// DisposeComponentsAsync can return before a component busy with a live render has been disposed (seen with a running
    /// migration on the page), so this waits a bounded time for the disposal; a handler that is never removed still fails.
    /// </summary>
    private static async Task AssertUnsubscribedAsync(IComponent component, (object Source, string Event)[] sources)
    {
        try
        {
            await Eventually.Until(() => Leftover(component, sources) is null, TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            // Reported below, with the handlers left.
        }

        var disposed = typeof(VmConsole.Server.Components.LiveComponentBase).GetField("_disposed", BindingFlags.Instance | BindingFlags.NonPublic)?.GetValue(component);
        var left = Leftover(component, sources);
        Assert.True(left is null, $"{left} (disposed: {disposed}; handlers: {string.Join(", ", sources.SelectMany(s => HandlersOf(s.Source, s.Event)).Select(d => d.Target?.GetType().FullName + "." + d.Method.Name))})");
    }

    private static string? Leftover(IComponent component, (object Source, string Event)[] sources) =>
        sources.Where(s => HandlersOf(s.Source, s.Event).Any(d => IsFrom(d, component)))
            .Select(s => $"{component.GetType().Name} left a handler on {s.Source.GetType().Name}.{s.Event}")
            .FirstOrDefault();

    /// <summary>
    /// The component's own method, a closure the compiler made inside it, or the migration watch it follows the
    /// registry with (this context has no other).
    /// </summary>
    private static bool IsFrom(Delegate handler, IComponent component) =>
        ReferenceEquals(handler.Target, component) || handler.Target?.GetType().DeclaringType == component.GetType() || handler.Target is VmConsole.Server.Domain.MigrationWatch;

    /// <summary>The invocation list of a field-like event, through its compiler-generated backing field.</summary>
    private static Delegate[] HandlersOf(object source, string name)
    {
        var field = source.GetType().GetField(name, BindingFlags.Instance | BindingFlags.NonPublic)
            ?? throw new InvalidOperationException($"{source.GetType().Name}.{name} has no backing field");
        return (field.GetValue(source) as Delegate)?.GetInvocationList() ?? [];
    }
}
