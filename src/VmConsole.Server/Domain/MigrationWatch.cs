using VmConsole.Emulation;
using VmConsole.Migration.Model;

namespace VmConsole.Server.Domain;

/// <summary>
/// Follows every migration of the registry for a view of its own (a page): one handler for state changes and one for
/// progress, attached to those running now and to each one that starts. Dispose to let go of all of them.
/// </summary>
public sealed class MigrationWatch : IDisposable
{
    private readonly MigrationRegistry _migrations;
    private readonly Action<IMigration, MigrationStatus> _statusChanged;
    private readonly Action<IMigration> _progress;
    private readonly Action<IMigration> _started;

    public MigrationWatch(MigrationRegistry migrations, Action<IMigration> started, Action<IMigration, MigrationStatus> statusChanged, Action<IMigration> progress)
    {
        _migrations = migrations;
        _statusChanged = statusChanged;
        _progress = progress;
        _started = started;
        migrations.Started += OnStarted;
        foreach (var migration in migrations.All.Where(m => !m.Status.IsFinal()))
        {
            Follow(migration);
        }
    }

    public void Dispose()
    {
        _migrations.Started -= OnStarted;
        foreach (var migration in _migrations.All)
        {
            migration.StatusChanged -= _statusChanged;
            migration.Progress -= _progress;
        }
    }

    private void OnStarted(IMigration migration)
    {
        Follow(migration);
        _started(migration);
    }

    private void Follow(IMigration migration)
    {
        migration.StatusChanged += _statusChanged;
        migration.Progress += _progress;
    }
}
