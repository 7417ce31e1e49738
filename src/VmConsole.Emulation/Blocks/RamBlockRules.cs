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
            throw DomainException.Invalid("invalid-idstr", "A migratable RAM block needs an idstr of 1 to 255 bytes; this one is empty.");
        }

        if (bytes > MaxIdStrBytes)
        {
            throw DomainException.Invalid("idstr-too-long", $"idstr is {bytes} bytes long; the migration stream allows at most {MaxIdStrBytes}.");
        }

        if (idStr.Contains('\0', StringComparison.Ordinal))
        {
            throw DomainException.Invalid("invalid-idstr", "idstr must not contain a NUL character.");
        }
    }

    public static void ValidatePageSize(long pageSize)
    {
        if (pageSize < MinPageSize || !BitOperations.IsPow2(pageSize))
        {
            throw DomainException.Invalid("invalid-page-size", $"Page size {pageSize} is not a power of two of at least {MinPageSize} bytes.");
        }
    }

    /// <summary>Checks page size, used_length and max_length together, as a block is created or resized.</summary>
    public static void ValidateLengths(long pageSize, long usedLength, long maxLength, bool resizeable)
    {
        ValidatePageSize(pageSize);
        if (usedLength <= 0)
        {
            throw DomainException.Invalid("invalid-used-length", $"used_length must be greater than zero; got {usedLength}.");
        }

        if (usedLength % pageSize != 0)
        {
            throw DomainException.Invalid("unaligned-used-length", $"used_length {usedLength} is not a multiple of the page size {pageSize}.");
        }

        if (maxLength % pageSize != 0)
        {
            throw DomainException.Invalid("unaligned-max-length", $"max_length {maxLength} is not a multiple of the page size {pageSize}.");
        }

        if (usedLength > maxLength)
        {
            throw DomainException.Invalid("used-length-exceeds-max", $"used_length {usedLength} exceeds max_length {maxLength}.");
        }

        if (!resizeable && usedLength != maxLength)
        {
            throw DomainException.Invalid("max-length-mismatch", $"A block that is not resizeable has max_length equal to used_length; got used {usedLength}, max {maxLength}.");
        }
    }
}
