namespace VmConsole.Emulation;

/// <summary>
/// A domain operation (emulator, migration engine, accounts) that cannot do what it was asked: bad input, a missing
/// thing, or a conflict with state. <see cref="Code"/> is stable and machine-readable (it becomes the problem details'
/// <c>code</c>), <see cref="Field"/> names the input it is about; the message is for people.
/// </summary>
public class DomainException(ErrorKind kind, string code, string message) : Exception(message)
{
    public ErrorKind Kind { get; } = kind;

    public string Code { get; } = code;

    /// <summary>The input the error is about, in the words of the operation's arguments (<c>maxBandwidth</c>), when it is one.</summary>
    public string? Field { get; init; }

    public static DomainException Invalid(string code, string message, string? field = null) => new(ErrorKind.Invalid, code, message) { Field = field };

    public static DomainException NotFound(string code, string message) => new(ErrorKind.NotFound, code, message);

    public static DomainException Conflict(string code, string message) => new(ErrorKind.Conflict, code, message);
}
