using VmConsole.Server.Api;

namespace VmConsole.Server.Hubs;

/// <summary>What the console pushes to its live clients (the same data the UI shows).</summary>
public interface IConsoleClient
{
    Task VmChanged(VmDto vm);

    Task RamBlocksChanged(string vm, IReadOnlyList<RamBlockDto> blocks);

    Task VmRemoved(string vm);

    Task MigrationStatusChanged(MigrationDto migration);

    /// <summary>At most ten a second per migration; each carries the latest numbers.</summary>
    Task MigrationProgress(MigrationDto migration);

    Task ActionRefused(RefusalDto refusal);

    Task AuditAppended(AuditEntryDto entry);
}
