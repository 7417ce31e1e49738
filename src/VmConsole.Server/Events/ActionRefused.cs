using VmConsole.Emulation;

namespace VmConsole.Server.Events;

/// <summary>The domain refused an action because of the state it is in (a conflict), for those watching live.</summary>
public sealed record ActionRefused(DomainException Refusal, DateTimeOffset At) : ConsoleEvent;
