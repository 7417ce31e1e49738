using System.Security.Claims;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Server.Hubs;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Components;

/// <summary>Where the outcome of a user's action goes; each call completes once the outcome, and the change before it, are kept.</summary>
public interface IActionLog
{
    Task AllowedAsync(string user, string action, string target, string? vm);

    Task RefusedAsync(string user, string action, string target, string? vm, DomainException refusal);
}

/// <summary>The console's action log: the audit log (committed, with the change it follows), and refusals pushed on the hub.</summary>
internal sealed class AuditedActionLog(ConsoleRecorder recorder, ConsoleEventForwarder hub) : IActionLog
{
    public Task AllowedAsync(string user, string action, string target, string? vm) =>
        recorder.AuditAsync(user, action, target, vm, allowed: true);

    public Task RefusedAsync(string user, string action, string target, string? vm, DomainException refusal)
    {
        var committed = recorder.AuditAsync(user, action, target, (refusal as MigratableSetFrozenException)?.Vm ?? vm, allowed: false, refusal.Code, refusal.Message);
        if (refusal.Kind == ErrorKind.Conflict)
        {
            hub.Refused(refusal);
        }

        return committed;
    }
}

/// <summary>
/// What the UI does, done the way the API does it: the change, then its outcome in the action log (allowed,
/// or refused with the domain's code and reason), committed before the caller shows the outcome to the user.
/// </summary>
public sealed class ConsoleActions(IActionLog log)
{
    /// <summary>Runs <paramref name="change"/>; returns, once the outcome is committed, null when it was done, or the refusal to show.</summary>
    public async Task<DomainException?> RunAsync(ClaimsPrincipal user, string action, string target, string? vm, Func<Task> change)
    {
        var who = user.Identity?.Name ?? ConsoleRecorder.Anonymous;
        try
        {
            await change();
            await log.AllowedAsync(who, $"UI {action}", target, vm);
            return null;
        }
        catch (DomainException refused)
        {
            await log.RefusedAsync(who, $"UI {action}", target, vm, refused);
            return refused;
        }
    }

    public Task<DomainException?> RunAsync(ClaimsPrincipal user, string action, string target, string? vm, Action change) =>
        RunAsync(user, action, target, vm, () =>
        {
            change();
            return Task.CompletedTask;
        });
}
