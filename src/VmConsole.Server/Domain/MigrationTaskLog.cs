using System.Collections.Concurrent;
using System.Collections.Immutable;
using Microsoft.EntityFrameworkCore;
using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Persistence;
using VmConsole.Persistence.Records;
using VmConsole.Server.Api;
using VmConsole.Server.Events;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Domain;

/// <summary>
/// Every migration's task log, as a reader of the event path: a line per pass (dirty sync) and per action (started,
/// cancel requested, continue, postcopy, switchover, throttle, ended, and each action a user took on it), timestamped,
/// each with the QEMU monitor commands that do the same. Kept in memory for the migrations this process saw, and in the
/// database through the <see cref="ConsoleStore"/> queue, so the history keeps it.
/// </summary>
/// <param name="store">Where the lines are written; null only for views tested without a database writer.</param>
public sealed class MigrationTaskLog(IDbContextFactory<ConsoleDbContext> contexts, VmInventory inventory, ConsoleStore? store = null) : IConsoleEventSink
{
    /// <summary>Pass lines kept per migration before only every hundredth pass is logged (a migration that never converges).</summary>
    public const int MaxPassLines = 500;

    // One per migration this process saw start. Written by Handle (the event path's one reader thread); Lines is swapped
    // whole, so readers on other threads take a consistent list.
    private readonly ConcurrentDictionary<string, Followed> _followed = new(StringComparer.Ordinal);

    /// <summary>A line was added to a migration's log (raised on the event path's reader).</summary>
    public event Action<string, MigrationLogLineDto>? Appended;

    public void Handle(ConsoleEvent consoleEvent)
    {
        switch (consoleEvent)
        {
            case MigrationStarted e:
                var followed = _followed.GetOrAdd(e.Migration.Id, _ => new Followed());
                // As it was when it started (the snapshot), not as it is by the time the event is read.
                followed.Status = MigrationStatusNames.TryParse(e.Snapshot.Status, out var status) ? status : MigrationStatus.Setup;
                Add(e.Migration.Id, followed, MigrationTaskLogLines.Started(e.Snapshot.Events.FirstOrDefault()?.At ?? DateTimeOffset.UtcNow, e.Snapshot));
                break;
            case MigrationProgressed e when _followed.TryGetValue(e.Migration.Id, out var f):
                Progressed(e.Migration, f, e.At, e.Stats);
                break;
            case MigrationStatusChanged e when _followed.TryGetValue(e.Migration.Id, out var f):
                // What the last pass did comes before what the state change says.
                Progressed(e.Migration, f, e.At, e.Stats);
                if (MigrationTaskLogLines.Status(e.At, f.Status, e.Status, e.Snapshot) is { } line)
                {
                    Add(e.Migration.Id, f, line);
                }

                f.Status = e.Status;
                break;
            case ActionRecorded e when MigrationOf(e.Line.Target) is { } id && _followed.TryGetValue(id, out var f):
                var outcome = e.Line.Allowed ? "" : $": refused, {e.Line.Reason ?? e.Line.Code}";
                Add(id, f, MigrationTaskLogLines.Line(e.Line.At, MigrationLogKind.Action, $"{e.Line.User}: {e.Line.Action}{outcome}"));
                break;
        }
    }

    /// <summary>The log of migration <paramref name="id"/>, oldest first: this process's lines, else the stored ones (empty when none).</summary>
    public async Task<IReadOnlyList<MigrationLogLineDto>> ReadAsync(string id, CancellationToken cancellationToken)
    {
        if (_followed.TryGetValue(id, out var followed))
        {
            return followed.Lines;
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var stored = await db.MigrationLog.AsNoTracking().Where(l => l.MigrationId == id).OrderBy(l => l.At).ThenBy(l => l.Id).ToListAsync(cancellationToken);
        return [.. stored.Select(l => new MigrationLogLineDto(l.At, l.Kind, l.Text, Split(l.Hmp), Split(l.Qmp)))];
    }

    /// <summary>Every command of the log, in order: what was done, as a QEMU monitor would be told it.</summary>
    public static MigrationCommandDto Commands(string id, IReadOnlyList<MigrationLogLineDto> lines) =>
        new(id, [.. lines.SelectMany(l => l.Hmp)], [.. lines.SelectMany(l => l.Qmp)]);

    private void Progressed(VmConsole.Migration.Model.IMigration migration, Followed f, DateTimeOffset at, VmConsole.Migration.Engine.MigrationStats stats)
    {
        if (stats.DirtySyncCount > f.Sync)
        {
            var from = f.Sync + 1;
            f.Sync = stats.DirtySyncCount;
            if (f.PassLines < MaxPassLines || f.Sync % 100 == 0)
            {
                f.PassLines++;
                var stopped = f.Status is MigrationStatus.Device or MigrationStatus.PreSwitchover or MigrationStatus.Completed;
                Add(migration.Id, f, MigrationTaskLogLines.Pass(at, from, f.Sync, stats, stopped ? null : LiveDirtyRate.PagesPerSecond(inventory, migration), stopped));
            }
        }

        if (stats.CpuThrottlePercentage != f.Throttle)
        {
            Add(migration.Id, f, MigrationTaskLogLines.Throttled(at, f.Throttle, stats.CpuThrottlePercentage));
            f.Throttle = stats.CpuThrottlePercentage;
        }
    }

    private void Add(string id, Followed followed, MigrationLogLineDto line)
    {
        followed.Lines = followed.Lines.Add(line);
        var record = new MigrationLogRecord
        {
            MigrationId = id,
            At = line.At,
            Kind = line.Kind,
            Text = line.Text.Length <= 2000 ? line.Text : line.Text[..2000],
            Hmp = line.Hmp.Count == 0 ? null : string.Join('\n', line.Hmp),
            Qmp = line.Qmp.Count == 0 ? null : string.Join('\n', line.Qmp),
        };
        store?.Enqueue(db =>
        {
            db.MigrationLog.Add(record);
            return Task.CompletedTask;
        });
        Appended?.Invoke(id, line);
    }

    /// <summary>The migration an action's target names: its id (the UI's) or an API path under /migrations/{id}.</summary>
    private string? MigrationOf(string target)
    {
        if (_followed.ContainsKey(target))
        {
            return target;
        }

        const string prefix = "/api/migrations/";
        if (!target.StartsWith(prefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = target[prefix.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? rest : rest[..slash];
    }

    private static string[] Split(string? lines) => lines is null ? [] : lines.Split('\n');

    /// <summary>What the log knows of one migration. Fields written by the event path's reader only.</summary>
    private sealed class Followed
    {
        private ImmutableList<MigrationLogLineDto> _lines = [];

        public ImmutableList<MigrationLogLineDto> Lines
        {
            get => Volatile.Read(ref _lines);
            set => Volatile.Write(ref _lines, value);
        }

        public MigrationStatus Status { get; set; }

        /// <summary>The last dirty sync logged: the setup's (1) to begin with.</summary>
        public long Sync { get; set; } = 1;

        public int Throttle { get; set; }

        public int PassLines { get; set; }
    }
}
