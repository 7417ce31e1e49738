using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;
using VmConsole.Server.Accounts;
using VmConsole.Server.Domain;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Api;

internal static class MigrationsApi
{
    public static void MapMigrationsApi(this IEndpointRouteBuilder api)
    {
        var migrations = api.MapGroup("/migrations").WithTags("Migrations");
        var operate = migrations.MapGroup("").RequireAuthorization(Roles.CanOperate);
        operate.MapPost("/", Start).WithSummary("Start a migration (202: it runs in the background)")
            .WithDescription("qemuCompatible (default: true when uri is given without destinationHost, i.e. the peer is a QEMU listening with -incoming) leaves out VmConsole's own device-state section.");
        migrations.MapGet("/", List).WithSummary("Migrations, newest first, filtered by VM and status");
        migrations.MapGet("/{id}", (string id, MigrationHistory history, CancellationToken cancellationToken) => history.GetAsync(id, cancellationToken));
        migrations.MapGet("/{id}/samples", (string id, MigrationHistory history, CancellationToken cancellationToken) => history.SamplesAsync(id, cancellationToken))
            .WithSummary("Progress samples for the charts (about two a second while it runs)");
        migrations.MapGet("/{id}/log", LogAsync)
            .WithSummary("The task log, oldest first: a line per pass (sent, dirty pages, throttle, expected downtime) and per action, each with its QEMU monitor commands");
        migrations.MapGet("/{id}/command", CommandAsync)
            .WithSummary("What was done to the migration as QEMU monitor commands, in order: HMP lines and QMP JSON");
        operate.MapPost("/{id}/cancel", CancelAsync)
            .WithSummary("migrate_cancel: 202 cancelling now, cancelled when the worker has quit; 200 and a no-op once finished (also for one known only from the history)");
        operate.MapPost("/{id}/continue", ContinueAsync).WithSummary("migrate-continue from pre-switchover (409 not-pre-switchover otherwise, finished ones included)");
        operate.MapPost("/{id}/postcopy", PostcopyAsync)
            .WithSummary("migrate-start-postcopy on an active migration started with postcopyRam (409 postcopy-not-enabled or migration-not-active otherwise); it can no longer be cancelled");
    }

    private static async Task<IReadOnlyList<MigrationLogLineDto>> LogAsync(string id, MigrationHistory history, MigrationTaskLog log, CancellationToken cancellationToken)
    {
        // 404 for a migration neither running nor in the history.
        await history.GetAsync(id, cancellationToken);
        return await log.ReadAsync(id, cancellationToken);
    }

    private static async Task<MigrationCommandDto> CommandAsync(string id, MigrationHistory history, MigrationTaskLog log, CancellationToken cancellationToken)
    {
        var migration = await history.GetAsync(id, cancellationToken);
        return MigrationTaskLog.Commands(migration.Id, await log.ReadAsync(id, cancellationToken));
    }

    private static async Task<IResult> CancelAsync(string id, MigrationRegistry migrations, MigrationHistory history, CancellationToken cancellationToken)
    {
        if (migrations.Find(id) is not { } live)
        {
            // Only in the history (run before a restart): finished, so cancelling it changes nothing.
            return TypedResults.Ok(await history.GetAsync(id, cancellationToken));
        }

        if (live.Status.IsFinal())
        {
            return TypedResults.Ok(live.ToDto());
        }

        live.Cancel();
        return TypedResults.Accepted($"/api/migrations/{id}", live.ToDto());
    }

    private static async Task<IResult> PostcopyAsync(string id, MigrationRegistry migrations, MigrationHistory history, CancellationToken cancellationToken)
    {
        if (migrations.Find(id) is not { } live)
        {
            var stored = await history.GetAsync(id, cancellationToken);
            throw DomainException.Conflict(ErrorCodes.MigrationNotActive, $"Migration {Names.Shorten(id)} is {stored.Status}; postcopy can only start from active.");
        }

        await live.StartPostcopyAsync(cancellationToken);
        return TypedResults.Accepted($"/api/migrations/{id}", live.ToDto());
    }

    private static async Task<IResult> ContinueAsync(string id, MigrationRegistry migrations, MigrationHistory history, CancellationToken cancellationToken)
    {
        if (migrations.Find(id) is not { } live)
        {
            throw MigrationRefusals.NotPreSwitchover(id, (await history.GetAsync(id, cancellationToken)).Status);
        }

        await live.ContinueAsync(cancellationToken);
        return TypedResults.Accepted($"/api/migrations/{id}", live.ToDto());
    }

    private static async Task<IResult> Start(StartMigrationRequest request, MigrationStarter starter, System.Security.Claims.ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        if (ApiProblems.ServerPathNeedsAdmin(request.Uri, user, "Migrating to a file or a unix socket") is { } forbidden)
        {
            return forbidden;
        }

        var errors = new RequestErrors();
        var vm = errors.Required(request.Vm, "vm");
        if (request.DestinationHost is null && request.Uri is null)
        {
            errors.Add("destinationHost", "Give 'destinationHost' (a host of this console) or 'uri' (a peer already listening there, such as QEMU with -incoming).");
        }
        else if (request.DestinationHost is not null && request.Uri is not null)
        {
            // With both, the console would listen on the uri itself for its own host: a uri meant for a QEMU peer would silently not reach it.
            errors.Add("uri", "Give 'destinationHost' or 'uri', not both: to a host of this console the console chooses the channel; 'uri' is for a peer already listening there, such as QEMU with -incoming.");
        }

        var parameters = request.Parameters.ToParameters(errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var migration = await starter.StartAsync(new MigrationRequest(vm)
        {
            DestinationHost = request.DestinationHost,
            Uri = request.Uri,
            // A uri without a destination host of this server has a peer outside it: QEMU, so its format unless told otherwise.
            QemuCompatible = request.QemuCompatible ?? (request.Uri is not null && request.DestinationHost is null),
            Parameters = parameters,
            Capabilities = request.Capabilities.ToCapabilities(),
        }, cancellationToken);
        return TypedResults.Accepted($"/api/migrations/{migration.Id}", migration.ToDto());
    }

    private static async Task<IResult> List(MigrationHistory history, string? vm, string? status, CancellationToken cancellationToken)
    {
        var filter = default(MigrationStatus);
        var errors = new RequestErrors();
        errors.VmName(vm, "vm");
        if (status is not null && !MigrationStatusNames.TryParse(status, out filter))
        {
            errors.Add("status", $"'{VmConsole.Emulation.Names.Shorten(status)}' is not a migration status (setup, active, pre-switchover, device, completed, cancelling, cancelled, failing, failed).");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        return TypedResults.Ok(await history.ListAsync(vm, status is null ? null : filter, cancellationToken));
    }
}
