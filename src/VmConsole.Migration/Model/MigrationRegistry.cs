using System.Collections.Immutable;
using VmConsole.Emulation;

namespace VmConsole.Migration.Model;

/// <summary>
/// Every migration this process has run or runs, of every kind: the one place that answers "all", "by id" and "the
/// active one of a VM", and that says when a migration starts. Kinds register themselves when they are accepted.
/// </summary>
public sealed class MigrationRegistry
{
    private readonly Lock _gate = new();

    // Written under _gate (copy on write), read without it.
    private ImmutableList<IMigration> _migrations = [];

    /// <summary>
    /// A migration was accepted. Raised before it can have changed state (before its worker starts), so a subscriber
    /// that attaches to it here sees every change after <c>setup</c>.
    /// </summary>
    public event Action<IMigration>? Started;

    /// <summary>In the order they started.</summary>
    public IReadOnlyList<IMigration> All => _migrations;

    public IMigration? Find(string id) => _migrations.FirstOrDefault(m => m.Id == id);

    /// <exception cref="DomainException">404 <c>migration-not-found</c>.</exception>
    public IMigration Get(string id) =>
        Find(id) ?? throw DomainException.NotFound(ErrorCodes.MigrationNotFound, $"No migration with id '{Names.Shorten(id)}'.");

    /// <summary>The migration moving VM <paramref name="vm"/> now (not yet finished), if any.</summary>
    public IMigration? ActiveFor(string vm) => _migrations.LastOrDefault(m => m.VmName == vm && !m.Status.IsFinal());

    /// <summary>Cancels every migration still running and waits until each has finished (at most <paramref name="limit"/>).</summary>
    /// <param name="which">Which migrations to cancel (default: all); a migration that refuses (postcopy) is still waited for.</param>
    public async Task CancelAllAsync(TimeSpan limit, TimeProvider time, Func<IMigration, bool>? which = null)
    {
        var running = _migrations.Where(m => !m.Status.IsFinal() && (which?.Invoke(m) ?? true)).ToList();
        foreach (var migration in running)
        {
            try
            {
                migration.Cancel();
            }
            catch (VmConsole.Emulation.DomainException)
            {
                // Past its point of no return (postcopy): it ends by itself.
            }
        }

        await Task.WhenAll(running.Select(m => m.Finished)).WaitAsync(limit, time).ConfigureAwait(false);
    }

    /// <summary>Registers an accepted migration and raises <see cref="Started"/>: call it before the migration can change state.</summary>
    public void Add(IMigration migration)
    {
        lock (_gate)
        {
            _migrations = _migrations.Add(migration);
        }

        Started?.Invoke(migration);
    }
}
