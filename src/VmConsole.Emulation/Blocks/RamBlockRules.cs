using System.Numerics;
using System.Text;

namespace VmConsole.Emulation.Blocks;

/// <summary>The rules of DESIGN.md section 2, each its own error code.</summary>
public static class RamBlockRules
{
    public const int MaxIdStrBytes = 255;
    public const long MinPageSize = 4096;

    public static void ValidateIdStr(string idStr)
    {
        ArgumentNullException.ThrowIfNull(idStr);
        var bytes = Encoding.UTF8.GetByteCount(idStr);
        if (bytes == 0)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidIdstr, "A migratable RAM block needs an idstr of 1 to 255 bytes; this one is empty.");
        }

        if (bytes > MaxIdStrBytes)
        {
            throw DomainException.Invalid(ErrorCodes.IdstrTooLong, $"idstr is {bytes} bytes long; the migration stream allows at most {MaxIdStrBytes}.");
        }

        if (idStr.Contains('\0', StringComparison.Ordinal))
        {
            throw DomainException.Invalid(ErrorCodes.InvalidIdstr, "idstr must not contain a NUL character.");
        }
    }

    public static void ValidatePageSize(long pageSize)
    {
        if (pageSize < MinPageSize || !BitOperations.IsPow2(pageSize))
        {
            throw DomainException.Invalid(ErrorCodes.InvalidPageSize, $"Page size {pageSize} is not a power of two of at least {MinPageSize} bytes.");
        }
    }

    /// <summary>Checks page size, used_length and max_length together, as a block is created or resized.</summary>
    public static void ValidateLengths(long pageSize, long usedLength, long maxLength, bool resizeable)
    {
        ValidatePageSize(pageSize);
        if (usedLength <= 0)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidUsedLength, $"used_length must be greater than zero; got {usedLength}.");
        }

        if (usedLength % pageSize != 0)
        {
            throw DomainException.Invalid(ErrorCodes.UnalignedUsedLength, $"used_length {usedLength} is not a multiple of the page size {pageSize}.");
        }

        if (maxLength % pageSize != 0)
        {
            throw DomainException.Invalid(ErrorCodes.UnalignedMaxLength, $"max_length {maxLength} is not a multiple of the page size {pageSize}.");
        }

        if (usedLength > maxLength)
        {
            throw DomainException.Invalid(ErrorCodes.UsedLengthExceedsMax, $"used_length {usedLength} exceeds max_length {maxLength}.");
        }

        if (!resizeable && usedLength != maxLength)
        {
            throw DomainException.Invalid(ErrorCodes.MaxLengthMismatch, $"A block that is not resizeable has max_length equal to used_length; got used {usedLength}, max {maxLength}.");
        }
    }
}
