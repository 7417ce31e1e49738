using Bunit;
using Bunit.TestDoubles;
using Microsoft.AspNetCore.Components;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using MudBlazor;
using MudBlazor.Services;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Server.Accounts;
using VmConsole.Persistence;
using VmConsole.Server.Components;
using VmConsole.Server.Domain;

using VmConsole.Server.Events;

namespace VmConsole.Server.Tests.Components;

/// <summary>bUnit with MudBlazor services, loose JS interop, and a small real emulator.</summary>
public abstract class ConsoleComponentContext : BunitContext, IAsyncLifetime
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"vmconsole-bunit-{Guid.NewGuid():N}.db");
    private MigrationEngine? _engine;

    protected ConsoleComponentContext()
        : this(TimeProvider.System)
    {
    }

    /// <param name="emulatorTime">
    /// The emulator's clock (dirty-rate sampling, guest pacing): a fake one for a test that moves time itself. The
    /// components and the engine keep the real clock.
    /// </param>
    protected ConsoleComponentContext(TimeProvider emulatorTime)
    {
        Emulator = new Emulator(emulatorTime);
        // bUnit waits 1 s by default for a WaitForAssertion to hold; with the whole suite running on two cores, a
        // render can take longer than that (a dialog's rule once did). A wait ends as soon as the assertion holds.
        DefaultWaitTimeout = TimeSpan.FromSeconds(5);
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
        Services.AddSingleton(TimeProvider.System);
        Services.AddSingleton(Emulator);
        Services.AddSingleton(Options.Create(new EmulatorOptions()));
        Services.AddSingleton<DirtyRateSampler>();
        Services.AddSingleton(Engine);
        // The QEMU driver without hosts: these components see emulated VMs through the one inventory.
        var qemu = new VmConsole.Qemu.Driver.QemuDriver([], TimeSpan.FromSeconds(10));
        Services.AddSingleton(qemu);
        Services.AddSingleton(sp => new VmConsole.Emulation.Drivers.VmInventory([Emulator, qemu]));
        Services.AddSingleton(new VmConsole.Qemu.Driver.CrossDriverMigrations(Emulator, Engine, qemu));
        Services.AddSingleton<MigrationStarter>();
        Services.AddSingleton<IActionLog>(ActionLog);
        Services.AddScoped<ConsoleActions>();
        var connection = $"Data Source={_database}";
        using (var migrator = new ServiceCollection().AddConsolePersistence(connection).BuildServiceProvider())
        {
            migrator.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<ConsoleDbContext>>().MigrateAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        Services.AddConsolePersistence(connection);
        Services.AddSingleton(Engine.Registry);
        Services.AddSingleton<VmConsole.Server.Recording.MigrationHistory>();
        Services.AddSingleton<MigrationTaskLog>();
        Services.AddSingleton(NullLoggerFactory.Instance);
        Emulator.AddHost("host-a", 8 * Sizes.GiB);

        Authorization = AddAuthorization();
        Authorization.SetAuthorized("admin");
        Authorization.SetRoles(Roles.Admin);
        AddServices(Services);

        // Last: it builds the renderer, after which no service can be added.
        SetRendererInfo(new RendererInfo("Server", isInteractive: true));
    }

    protected Emulator Emulator { get; }

    /// <summary>Signed in as "admin" with the Admin role; a test may change the roles before it renders.</summary>
    protected BunitAuthorizationContext Authorization { get; }

    /// <summary>The SQLite database the persistence services use (migrated).</summary>
    protected string ConnectionString => $"Data Source={_database}";

    /// <summary>What the components put in the action log.</summary>
    protected RecordingActionLog ActionLog { get; } = new();

    protected MigrationEngine Engine => _engine ??= new MigrationEngine(Emulator);

    protected Vm CreateVm(string name, string machine = "q35", long memoryMiB = 64, bool start = true, int slots = 0, long maxMemMiB = 0) =>
        Emulator.CreateVm(new VmDefinition(name, "host-a", machine, memoryMiB * Sizes.MiB) { Start = start, Slots = slots, MaxMemBytes = maxMemMiB * Sizes.MiB });

    /// <summary>VM "from-qemu" arriving on host-a: a migration from QEMU listening on a free loopback port.</summary>
    protected VmConsole.Migration.Model.IMigration ListenForQemu(out int port)
    {
        port = LoopbackPorts.Free();
        return Engine.ReceiveFromQemu("from-qemu", "host-a", $"tcp:127.0.0.1:{port}");
    }

    /// <summary>What QEMU's <c>migrate</c> of a 16 MiB microvm sends: the stream of a new VM "src" (left in the inventory).</summary>
    protected async Task<byte[]> QemuStreamOfNewVmAsync()
    {
        var source = CreateVm("src", machine: "microvm", memoryMiB: 16);
        using var stream = new MemoryStream();
        await VmConsole.Migration.Qemu.QemuStreamExport.ExportAsync(source, stream);
        return stream.ToArray();
    }

    /// <summary>
    /// Services a test class needs beyond the common ones, added before the renderer is built. Called from the
    /// constructor: use only what the base class has set up (its emulator, engine and database), no field of the subclass.
    /// </summary>
    protected virtual void AddServices(IServiceCollection services)
    {
    }

    /// <summary>MudBlazor's popovers (tooltips, snackbars) need their providers rendered.</summary>
    /// <returns>The popover provider, where open menus and select lists render.</returns>
    protected IRenderedComponent<MudPopoverProvider> RenderProviders()
    {
        var popovers = Render<MudPopoverProvider>();
        Snackbars = Render<MudSnackbarProvider>();
        return popovers;
    }

    /// <summary>The snackbars shown, once <see cref="RenderProviders"/> has rendered them.</summary>
    protected IRenderedComponent<MudSnackbarProvider> Snackbars { get; private set; } = null!;

    public virtual Task InitializeAsync() => Task.CompletedTask;

    /// <summary>Stops what a subclass started, before the context and the database go.</summary>
    protected virtual Task StopAsync() => Task.CompletedTask;

    /// <summary>MudBlazor's services dispose only asynchronously, so xunit disposes the context here.</summary>
    async Task IAsyncLifetime.DisposeAsync()
    {
        await StopAsync();
        await DisposeAsync();
        if (_engine is not null)
        {
            await _engine.DisposeAsync();
        }

        Emulator.Dispose();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }
}

/// <summary>An action log that keeps every line, for assertions.</summary>
public sealed class RecordingActionLog : IActionLog
{
    public System.Collections.Concurrent.ConcurrentQueue<(string User, string Action, string Target, string? Vm, string? Code)> Lines { get; } = new();

    public Task AllowedAsync(string user, string action, string target, string? vm)
    {
        Lines.Enqueue((user, action, target, vm, null));
        return Task.CompletedTask;
    }

    public Task RefusedAsync(string user, string action, string target, string? vm, DomainException refusal, string? address = null)
    {
        Lines.Enqueue((user, action, target, vm, refusal.Code));
        return Task.CompletedTask;
    }
}
