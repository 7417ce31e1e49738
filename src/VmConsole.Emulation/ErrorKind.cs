namespace VmConsole.Emulation;

/// <summary>How the outside world should read a refusal: bad input, a missing thing, or a conflict with state.</summary>
public enum ErrorKind
{
    Invalid,
    NotFound,
    Conflict,
}
