using System.Security.Claims;
using VmConsole.Emulation;
using VmConsole.Server.Events;

namespace VmConsole.Server.Components;

/// <summary>
/// What the UI does, done the way the API does it: the change, then its outcome in the action log (allowed,
/// or refused with the domain's code and reason), committed before the caller shows the outcome to the user.
/// The caller shows a refusal once, in one place: inline, next to what was refused (a dialog's or a page's alert),
/// never also as a snackbar that would cover it; snackbars say only that something was done.
/// </summary>
public sealed class ConsoleActions(IActionLog log)
{
    /// <summary>Runs <paramref name="change"/>; returns, once the outcome is committed, null when it was done, or the refusal to show.</summary>
    /// <param name="action">The audit log's sentence for it, in the log's plain past tense ("Deleted VM db-1"), as the API's
    /// <see cref="Api.AuditWording"/> words its calls; a refusal keeps it, the outcome column says it was refused.</param>
    public async Task<DomainException?> RunAsync(ClaimsPrincipal user, string action, string target, string? vm, Func<Task> change)
    {
        var who = user.Identity?.Name ?? ActionLog.Anonymous;
        try
        {
            await change();
            await log.AllowedAsync(who, action, target, vm);
            return null;
        }
        catch (DomainException refused)
        {
            await log.RefusedAsync(who, action, target, vm, refused);
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
