namespace VmConsole.Emulation;

/// <summary>How the outside world should read a refusal: bad input, a missing thing, or a conflict with state.</summary>
public enum ErrorKind
{
    Invalid,
    NotFound,
    Conflict,
}

/// <summary>
/// A domain operation that cannot do what it was asked. <see cref="Code"/> is stable and machine-readable
/// (it becomes the problem details' <c>code</c>); the message is for people.
/// </summary>
public class EmulationException(ErrorKind kind, string code, string message) : Exception(message)
{
    public ErrorKind Kind { get; } = kind;

    public string Code { get; } = code;

    /// <summary>The input the error is about, in the words of the operation's arguments (<c>maxBandwidth</c>), when it is one.</summary>
    public string? Field { get; init; }

    public static EmulationException Invalid(string code, string message, string? field = null) => new(ErrorKind.Invalid, code, message) { Field = field };

    public static EmulationException NotFound(string code, string message) => new(ErrorKind.NotFound, code, message);

    public static EmulationException Conflict(string code, string message) => new(ErrorKind.Conflict, code, message);
}
