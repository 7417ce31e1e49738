using VmConsole.Emulation;

namespace VmConsole.Server.Events;

/// <summary>Where the outcome of a user's action goes; each call completes once the outcome, and the change before it, are kept.</summary>
public interface IActionLog
{
    Task AllowedAsync(string user, string action, string target, string? vm);

    Task RefusedAsync(string user, string action, string target, string? vm, DomainException refusal, string? address = null);
}
