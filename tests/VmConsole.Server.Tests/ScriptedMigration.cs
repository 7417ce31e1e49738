using System.Collections.Immutable;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;

namespace VmConsole.Server.Tests;

/// <summary>
/// A migration whose figures a test sets: registered like any kind of migration, it reports what it is told, when it
/// is told, so that the hub, the recorder and the pages can be checked against known numbers (an xbzrle-cache a real
/// run would only reach with a busy guest).
/// </summary>
internal sealed class ScriptedMigration(string id, string vm, MigrationParameters parameters, MigrationCapabilities capabilities, TimeProvider time) : IMigration
{
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private MigrationStats _stats = new() { Status = MigrationStatus.Setup };
    private ImmutableList<MigrationEvent> _events = [new MigrationEvent(MigrationStatus.Setup, time.GetUtcNow())];

    public string Id => id;

    public string VmName => vm;

    public MigrationDirection Direction => MigrationDirection.Outgoing;

    public string SourceHost => "host-a";

    public string? DestinationHost => "host-b";

    public string? Uri => null;

    public MigrationParameters Parameters => parameters;

    public MigrationCapabilities Capabilities => capabilities;

    public MigrationStatus Status => Volatile.Read(ref _stats).Status;

    public ImmutableList<MigrationEvent> Events => Volatile.Read(ref _events);

    public ImmutableList<int> ThrottleSteps => [];

    public bool? Verified => null;

    public Task Finished => _finished.Task;

    public event Action<IMigration, MigrationStatus>? StatusChanged;

    public event Action<IMigration>? Progress;

    public MigrationStats GetStats() => Volatile.Read(ref _stats);

    public IReadOnlyList<BlockProgress> GetBlockProgress() => [];

    /// <summary>Reports <paramref name="stats"/>: a status change first when its status differs, then progress.</summary>
    public void Report(MigrationStats stats)
    {
        var previous = Interlocked.Exchange(ref _stats, stats);
        if (previous.Status != stats.Status)
        {
            ImmutableInterlocked.Update(ref _events, e => e.Add(new MigrationEvent(stats.Status, time.GetUtcNow())));
            StatusChanged?.Invoke(this, stats.Status);
        }

        Progress?.Invoke(this);
        if (stats.Status.IsFinal())
        {
            _finished.TrySetResult();
        }
    }

    public void Cancel() => Report(GetStats() with { Status = MigrationStatus.Cancelled });

    public Task ContinueAsync(CancellationToken cancellationToken = default) => throw MigrationRefusals.NotPreSwitchover(id, Status.ToQemuName());

    public Task StartPostcopyAsync(CancellationToken cancellationToken = default) =>
        throw MigrationRefusals.PostcopyNotEnabled(id, vm);
}
