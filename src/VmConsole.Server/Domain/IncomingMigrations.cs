using System.Collections.Immutable;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Qemu;

namespace VmConsole.Server.Domain;

/// <summary>
/// Migrations from a real QEMU into this console (<c>POST /api/vms/incoming</c>), kept so that they are listed, read and
/// cancelled like the engine's console-to-console migrations. Disposing cancels those still listening or receiving.
/// </summary>
public sealed class IncomingMigrations(Emulator emulator, TimeProvider time) : IAsyncDisposable
{
    private readonly Lock _gate = new();

    // Written under _gate (copy on write), read without it.
    private ImmutableList<IncomingMigration> _migrations = [];

    /// <summary>An incoming migration is listening. Raised before QEMU can have connected to it through this console.</summary>
    public event Action<IncomingMigration>? Started;

    public IReadOnlyList<IncomingMigration> Migrations => _migrations;

    public IncomingMigration? Find(string id) => _migrations.FirstOrDefault(m => m.Id == id);

    /// <summary>The migration bringing in VM <paramref name="vm"/> now (not yet finished), if any.</summary>
    public IncomingMigration? ActiveFor(string vm) => _migrations.LastOrDefault(m => m.VmName == vm && !m.Inner.Status.IsFinal());

    /// <summary>Creates VM <paramref name="name"/> in <c>inmigrate</c> on <paramref name="host"/>, listening on <paramref name="uri"/>.</summary>
    /// <exception cref="DomainException">Invalid or taken name, unknown host, or a URI that is not unix: or loopback tcp:.</exception>
    public IncomingMigration Listen(string name, string host, string uri)
    {
        var migration = new IncomingMigration(QemuIncomingMigration.Listen(emulator, name, host, uri, time), time);
        lock (_gate)
        {
            _migrations = _migrations.Add(migration);
        }

        Started?.Invoke(migration);
        return migration;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var migration in _migrations)
        {
            await migration.Inner.DisposeAsync().ConfigureAwait(false);
        }
    }
}

/// <summary>One migration from QEMU, with its state changes and their times (the domain object keeps only the current state).</summary>
public sealed class IncomingMigration
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;

    // Written under _gate (copy on write), read without it.
    private ImmutableList<MigrationEvent> _events;

    internal IncomingMigration(QemuIncomingMigration inner, TimeProvider time)
    {
        Inner = inner;
        _time = time;
        _events = [new MigrationEvent(MigrationStatus.Setup, time.GetUtcNow())];
        inner.StatusChanged += (_, status) => Record(status);
        inner.Progress += _ => Progress?.Invoke(this);

        // The worker may have moved on before the handler above was attached.
        Record(inner.Status);
    }

    /// <summary>A state change (once per state), raised on the thread that made it.</summary>
    public event Action<IncomingMigration, MigrationStatus>? StatusChanged;

    /// <summary>The numbers moved: at most ten a second while active, on a timer thread (see <see cref="QemuIncomingMigration.Progress"/>).</summary>
    public event Action<IncomingMigration>? Progress;

    public QemuIncomingMigration Inner { get; }

    public string Id => Inner.Id;

    public string VmName => Inner.VmName;

    public ImmutableList<MigrationEvent> Events => _events;

    private void Record(MigrationStatus status)
    {
        lock (_gate)
        {
            if (_events.Any(e => e.Status == status))
            {
                return;
            }

            _events = _events.Add(new MigrationEvent(status, _time.GetUtcNow()));
        }

        StatusChanged?.Invoke(this, status);
    }
}
