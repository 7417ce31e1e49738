namespace VmConsole.Server.Events;

/// <summary>One line of the audit log as queued; <see cref="Count"/> above 1 stands for repeats kept as one row.</summary>
public sealed record AuditLine(DateTimeOffset At, string User, string Action, string Target, string? Vm, bool Allowed, string? Code, string? Reason, int Count = 1)
{
    /// <summary>The line as it is stored and shown: each text cut to its column's length.</summary>
    public AuditLine Cut() => this with
    {
        User = Cut(User, 64), Action = Cut(Action, 200), Target = Cut(Target, 400), Vm = Vm is null ? null : Cut(Vm, 63), Code = Code is null ? null : Cut(Code, 64),
    };

    private static string Cut(string text, int length) => text.Length <= length ? text : text[..length];
}
