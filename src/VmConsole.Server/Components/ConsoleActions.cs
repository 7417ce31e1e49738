using System.Security.Claims;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Server.Hubs;
using VmConsole.Server.Persistence;

namespace VmConsole.Server.Components;

/// <summary>Where the outcome of a user's action goes.</summary>
public interface IActionLog
{
    void Allowed(string user, string action, string target, string? vm);

    void Refused(string user, string action, string target, string? vm, EmulationException refusal);
}

/// <summary>The console's action log: the audit log, and refusals pushed on the hub.</summary>
internal sealed class AuditedActionLog(ConsoleRecorder recorder, ConsoleEventForwarder hub) : IActionLog
{
    public void Allowed(string user, string action, string target, string? vm) =>
        recorder.Audit(user, action, target, vm, allowed: true);

    public void Refused(string user, string action, string target, string? vm, EmulationException refusal)
    {
        recorder.Audit(user, action, target, (refusal as MigratableSetFrozenException)?.Vm ?? vm, allowed: false, refusal.Code, refusal.Message);
        if (refusal.Kind == ErrorKind.Conflict)
        {
            hub.Refused(refusal);
        }
    }
}

/// <summary>
/// What the UI does, done the way the API does it: the change, then its outcome in the action log (allowed,
/// or refused with the domain's code and reason). The caller shows the outcome to the user.
/// </summary>
public sealed class ConsoleActions(IActionLog log)
{
    /// <summary>Runs <paramref name="change"/>; returns null when it was done, or the refusal to show.</summary>
    public async Task<EmulationException?> RunAsync(ClaimsPrincipal user, string action, string target, string? vm, Func<Task> change)
    {
        var who = user.Identity?.Name ?? "anonymous";
        try
        {
            await change();
            log.Allowed(who, $"UI {action}", target, vm);
            return null;
        }
        catch (EmulationException refused)
        {
            log.Refused(who, $"UI {action}", target, vm, refused);
            return refused;
        }
    }

    public Task<EmulationException?> RunAsync(ClaimsPrincipal user, string action, string target, string? vm, Action change) =>
        RunAsync(user, action, target, vm, () =>
        {
            change();
            return Task.CompletedTask;
        });
}
