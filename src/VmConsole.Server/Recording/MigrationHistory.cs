using System.Text.Json;
using Microsoft.EntityFrameworkCore;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Persistence;
using VmConsole.Persistence.Records;
using VmConsole.Server.Api;

namespace VmConsole.Server.Recording;

/// <summary>Migrations as the API lists them: the stored history, with live numbers for those this process runs.</summary>
public sealed class MigrationHistory(IDbContextFactory<ConsoleDbContext> contexts, MigrationRegistry migrations)
{
    public async Task<IReadOnlyList<MigrationDto>> ListAsync(string? vm, MigrationStatus? status, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var stored = await db.Migrations.AsNoTracking().Include(m => m.Events)
            .Where(m => vm == null || m.Vm == vm)
            .ToListAsync(cancellationToken);
        var byId = stored.ToDictionary(m => m.Id, ToDto);
        foreach (var live in migrations.All.Where(m => vm is null || m.VmName == vm))
        {
            byId[live.Id] = live.ToDto();
        }

        return [.. byId.Values
            .Where(m => status is null || m.Status == status.Value.ToQemuName())
            .OrderByDescending(m => m.Events.Count > 0 ? m.Events[0].At : DateTimeOffset.MinValue)];
    }

    public async Task<MigrationDto> GetAsync(string id, CancellationToken cancellationToken)
    {
        if (migrations.Find(id) is { } live)
        {
            return live.ToDto();
        }

        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        var stored = await db.Migrations.AsNoTracking().Include(m => m.Events).FirstOrDefaultAsync(m => m.Id == id, cancellationToken);
        return stored is null ? throw NotFound(id) : ToDto(stored);
    }

    public async Task<IReadOnlyList<ProgressSampleRecord>> SamplesAsync(string id, CancellationToken cancellationToken)
    {
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        if (migrations.Find(id) is null && !await db.Migrations.AnyAsync(m => m.Id == id, cancellationToken))
        {
            throw NotFound(id);
        }

        return await db.ProgressSamples.AsNoTracking().Where(s => s.MigrationId == id).OrderBy(s => s.At).ToListAsync(cancellationToken);
    }

    private static DomainException NotFound(string id) =>
        DomainException.NotFound(ErrorCodes.MigrationNotFound, $"No migration with id '{Names.Shorten(id)}'.");

    private static MigrationDto ToDto(MigrationRecord m)
    {
        var stats = m.StatsJson is null ? null : JsonSerializer.Deserialize<MigrationStats>(m.StatsJson, JsonSerializerOptions.Web);
        var parameters = JsonSerializer.Deserialize<MigrationParameters>(m.ParametersJson, JsonSerializerOptions.Web) ?? MigrationParameters.Default;
        var capabilities = JsonSerializer.Deserialize<MigrationCapabilities>(m.CapabilitiesJson, JsonSerializerOptions.Web) ?? MigrationCapabilities.Default;
        return new MigrationDto(
            m.Id, m.Vm, m.SourceHost, m.DestinationHost, m.Uri, m.Status, parameters, capabilities,
            stats?.SetupTime, stats?.TotalTime ?? 0, stats?.ExpectedDowntime, stats?.Downtime,
            new MigrationRamDto(stats?.Transferred ?? 0, stats?.Remaining ?? 0, stats?.Total ?? 0, stats?.Duplicate ?? 0, stats?.Normal ?? 0,
                stats?.NormalBytes ?? 0, stats?.DirtyPagesRate ?? 0, stats?.Mbps ?? 0, stats?.DirtySyncCount ?? 0, stats?.PageSize ?? 4096,
                stats?.PagesPerSecond ?? 0, stats?.PrecopyBytes ?? 0, stats?.DowntimeBytes ?? 0),
            stats?.CpuThrottlePercentage ?? 0, m.ErrorDesc, m.Verified, [],
            [.. m.Events.OrderBy(e => e.At).ThenBy(e => e.Id).Select(e => new MigrationEventDto(e.Status, e.At))],
            m.Direction, stats?.XbzrleCache.ToDto());
    }
}
