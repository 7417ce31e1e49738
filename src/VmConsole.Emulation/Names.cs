using System.Text.RegularExpressions;

namespace VmConsole.Emulation;

/// <summary>Names people give things, and the rules they must follow.</summary>
public static partial class Names
{
    /// <summary>Whether <paramref name="name"/> is a valid host or VM name (see <see cref="ValidateName"/>).</summary>
    public static bool IsValidName(string? name) => !string.IsNullOrEmpty(name) && NamePattern().IsMatch(name);

    /// <summary>Whether <paramref name="id"/> is a well-formed QEMU object or device id (see <see cref="ValidateQemuId"/>).</summary>
    public static bool IsValidQemuId(string? id) => !string.IsNullOrEmpty(id) && QemuIdPattern().IsMatch(id);

    /// <summary>A host or VM name: lower-case letters, digits and '-', starting with a letter or digit, 1 to 63 characters.</summary>
    public static void ValidateName(string? name, string what)
    {
        if (!IsValidName(name))
        {
            throw DomainException.Invalid(
                ErrorCodes.InvalidName,
                $"'{Shorten(name)}' is not a valid {what} name: use 1 to 63 lower-case letters, digits and '-', starting with a letter or digit.");
        }
    }

    /// <summary>A QEMU object or device id: a letter, then letters, digits, '-', '.' or '_' (QEMU's id_wellformed), at most 63 characters.</summary>
    public static void ValidateQemuId(string? id, string what)
    {
        if (!IsValidQemuId(id))
        {
            throw DomainException.Invalid(
                ErrorCodes.InvalidId,
                $"'{Shorten(id)}' is not a valid {what} id: start with a letter, then letters, digits, '-', '.' or '_', at most 63 characters.");
        }
    }

    /// <summary>Long or odd input, cut for quoting in a message.</summary>
    public static string Shorten(string? text) =>
        text is null ? "" : text.Length <= 70 ? text : string.Concat(text.AsSpan(0, 64), "...");

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{0,62}\z", RegexOptions.CultureInvariant)]
    private static partial Regex NamePattern();

    [GeneratedRegex(@"^[A-Za-z][A-Za-z0-9_.-]{0,62}\z", RegexOptions.CultureInvariant)]
    private static partial Regex QemuIdPattern();
}
