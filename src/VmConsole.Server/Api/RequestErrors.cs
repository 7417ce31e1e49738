using VmConsole.Emulation;

namespace VmConsole.Server.Api;

/// <summary>Field errors of one request, answered as a 400 validation problem with <c>errors</c> and code <c>validation-failed</c>.</summary>
internal sealed class RequestErrors
{
    private readonly Dictionary<string, string[]> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public void Add(string field, string message) =>
        _errors[field] = _errors.TryGetValue(field, out var existing) ? [.. existing, message] : [message];

    /// <summary>The value, or a recorded "is required" error (and the default).</summary>
    public T Required<T>(T? value, string field)
        where T : struct
    {
        if (value is null)
        {
            Add(field, $"'{field}' is required.");
        }

        return value.GetValueOrDefault();
    }

    public string Required(string? value, string field)
    {
        if (string.IsNullOrEmpty(value))
        {
            Add(field, $"'{field}' is required.");
        }

        return value ?? "";
    }

    public long InRange(long? value, string field, long min, long max, bool required = true)
    {
        if (value is null)
        {
            if (required)
            {
                Add(field, $"'{field}' is required.");
            }

            return 0;
        }

        if (value < min || value > max)
        {
            Add(field, $"'{field}' must be between {min:N0} and {max:N0}; got {value:N0}.");
        }

        return value.Value;
    }

    /// <summary>A VM name used as a filter: no VM has a name longer than 63 characters, so a longer one is an error, not an empty answer.</summary>
    public void VmName(string? value, string field)
    {
        if (value is { Length: > 63 })
        {
            Add(field, $"'{field}' is a VM name of at most 63 characters; got {value.Length:N0}.");
        }
    }

    /// <summary>An enum value by its name only (any case); numbers and unknown names are refused.</summary>
    public static bool TryParseName<TEnum>(string text, out TEnum value)
        where TEnum : struct, Enum
    {
        var name = Enum.GetNames<TEnum>().FirstOrDefault(n => n.Equals(text, StringComparison.OrdinalIgnoreCase));
        value = name is null ? default : Enum.Parse<TEnum>(name);
        return name is not null;
    }

    /// <summary>The 400; its detail is the messages themselves, so that the audit log's reason says what was wrong.</summary>
    public IResult ToResult() => TypedResults.ValidationProblem(
        _errors,
        detail: string.Join(" ", _errors.Values.SelectMany(messages => messages)),
        extensions: new Dictionary<string, object?> { ["code"] = ErrorCodes.ValidationFailed });
}
