using System.Buffers;
using System.Text;

namespace VmConsole.Migration.Wire;

/// <summary>Text on the wire: idstrs, the machine type and the description are UTF-8 without a BOM, checked both ways.</summary>
internal static class WireText
{
    /// <summary>An idstr's length travels in one byte (QEMU's <c>qemu_put_counted_string</c>).</summary>
    public const int MaxIdStrLength = 255;

    /// <summary>Throws on lone surrogates when encoding and on invalid bytes when decoding, rather than replacing them.</summary>
    public static UTF8Encoding Strict { get; } = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>The UTF-8 length of <paramref name="text"/>; <see cref="ArgumentException"/> if it is not valid UTF-16.</summary>
    public static int StrictByteCount(string text, string paramName)
    {
        try
        {
            return Strict.GetByteCount(text);
        }
        catch (EncoderFallbackException ex)
        {
            throw new ArgumentException($"'{text}' is not valid UTF-16 and cannot be sent as UTF-8.", paramName, ex);
        }
    }

    /// <summary>Decodes valid UTF-8; false for anything else.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, out string text)
    {
        try
        {
            text = Strict.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            text = "";
            return false;
        }
    }

    /// <summary>Decodes valid UTF-8 that may span several buffers; false for anything else.</summary>
    public static bool TryDecode(in ReadOnlySequence<byte> bytes, out string text)
    {
        try
        {
            text = Strict.GetString(bytes);
            return true;
        }
        catch (DecoderFallbackException)
        {
            text = "";
            return false;
        }
    }

    /// <summary>For error messages: whatever the bytes say, invalid sequences shown as U+FFFD.</summary>
    public static string Lenient(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
