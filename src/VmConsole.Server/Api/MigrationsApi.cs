using VmConsole.Migration.Engine;

namespace VmConsole.Server.Api;

internal static class MigrationsApi
{
    public static void MapMigrationsApi(this IEndpointRouteBuilder api)
    {
        var migrations = api.MapGroup("/migrations").WithTags("Migrations");
        migrations.MapPost("/", Start).WithSummary("Start a migration (202: it runs in the background)");
        migrations.MapGet("/", List).WithSummary("Migrations, newest first, filtered by VM and status");
        migrations.MapGet("/{id}", (string id, MigrationEngine engine) => engine.Get(id).ToDto());
        migrations.MapPost("/{id}/cancel", (string id, MigrationEngine engine) =>
        {
            var migration = engine.Get(id);
            migration.Cancel();
            return TypedResults.Accepted($"/api/migrations/{id}", migration.ToDto());
        }).WithSummary("migrate_cancel: cancelling now, cancelled when the worker has quit; a no-op once finished");
        migrations.MapPost("/{id}/continue", (string id, MigrationEngine engine) =>
        {
            var migration = engine.Get(id);
            migration.Continue();
            return TypedResults.Accepted($"/api/migrations/{id}", migration.ToDto());
        }).WithSummary("migrate-continue from pre-switchover");
    }

    private static IResult Start(StartMigrationRequest request, MigrationEngine engine)
    {
        var errors = new RequestErrors();
        var vm = errors.Required(request.Vm, "vm");
        if (request.DestinationHost is null && request.Uri is null)
        {
            errors.Add("destinationHost", "Give 'destinationHost', 'uri', or both.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        var p = request.Parameters;
        var defaults = MigrationParameters.Default;
        var c = request.Capabilities;
        var caps = MigrationCapabilities.Default;
        var migration = engine.Start(new MigrationRequest(vm)
        {
            DestinationHost = request.DestinationHost,
            Uri = request.Uri,
            QemuCompatible = request.QemuCompatible ?? false,
            Parameters = new MigrationParameters
            {
                MaxBandwidth = p?.MaxBandwidth ?? defaults.MaxBandwidth,
                DowntimeLimit = p?.DowntimeLimit ?? defaults.DowntimeLimit,
                CpuThrottleInitial = p?.CpuThrottleInitial ?? defaults.CpuThrottleInitial,
                CpuThrottleIncrement = p?.CpuThrottleIncrement ?? defaults.CpuThrottleIncrement,
                MaxCpuThrottle = p?.MaxCpuThrottle ?? defaults.MaxCpuThrottle,
                ThrottleTriggerThreshold = p?.ThrottleTriggerThreshold ?? defaults.ThrottleTriggerThreshold,
                MultifdChannels = p?.MultifdChannels ?? defaults.MultifdChannels,
                XbzrleCacheSize = p?.XbzrleCacheSize ?? defaults.XbzrleCacheSize,
            },
            Capabilities = new MigrationCapabilities
            {
                AutoConverge = c?.AutoConverge ?? caps.AutoConverge,
                PostcopyRam = c?.PostcopyRam ?? caps.PostcopyRam,
                PauseBeforeSwitchover = c?.PauseBeforeSwitchover ?? caps.PauseBeforeSwitchover,
                Multifd = c?.Multifd ?? caps.Multifd,
                Xbzrle = c?.Xbzrle ?? caps.Xbzrle,
                Events = c?.Events ?? caps.Events,
            },
        });
        return TypedResults.Accepted($"/api/migrations/{migration.Id}", migration.ToDto());
    }

    private static IResult List(MigrationEngine engine, string? vm, string? status)
    {
        var filter = default(MigrationStatus);
        if (status is not null && !MigrationStatusNames.TryParse(status, out filter))
        {
            var errors = new RequestErrors();
            errors.Add("status", $"'{VmConsole.Emulation.Names.Shorten(status)}' is not a migration status (setup, active, pre-switchover, device, completed, cancelling, cancelled, failing, failed).");
            return errors.ToResult();
        }

        var found = engine.Migrations.Reverse()
            .Where(m => vm is null || m.VmName == vm)
            .Where(m => status is null || m.Status == filter)
            .Select(m => m.ToDto())
            .ToList();
        return TypedResults.Ok(found);
    }
}
