using System.Buffers.Binary;
using VmConsole.Emulation;

namespace VmConsole.Qemu.Guests;

/// <summary>
/// The project's own guest program (DESIGN.md section 10): a multiboot image, loaded by QEMU with <c>-kernel</c> on
/// <c>pc</c> and <c>q35</c>, that adds one to the first byte of every 4 KiB page of [<see cref="Start"/>,
/// <see cref="End"/>), in order, forever, as fast as the vCPU runs. It dirties memory like a busy guest, and leaves an
/// invariant a migrated copy must keep: along the range each page's first byte equals the previous page's or is one
/// less (modulo 256), with one break where the sweep was (<see cref="Check"/>).
/// </summary>
public sealed record SweepGuest(long Start, long End)
{
    public const long PageSize = 4096;

    /// <summary>Where QEMU's multiboot loader puts the image (the a.out kludge's load address).</summary>
    public const uint LoadAddress = 0x100000;

    /// <summary>The lowest start: above the image at 1 MiB.</summary>
    public const long LowestStart = 2 * Sizes.MiB;

    /// <summary>The sweep over [2 MiB, min(memory, 3 GiB) - 1 MiB) of a VM with <paramref name="memoryBytes"/> of RAM.</summary>
    public static SweepGuest For(long memoryBytes) => new(LowestStart, Math.Min(memoryBytes, 3 * Sizes.GiB) - Sizes.MiB);

    /// <exception cref="DomainException">400 <c>out-of-range</c>: not page-aligned, below 2 MiB, empty, or beyond the guest's low memory.</exception>
    public void Validate(long memoryBytes)
    {
        if (Start < LowestStart || End <= Start || Start % PageSize != 0 || End % PageSize != 0 || End > Math.Min(memoryBytes, 3 * Sizes.GiB))
        {
            throw DomainException.Invalid(
                ErrorCodes.OutOfRange,
                $"The sweep range must be page-aligned, from at least 2 MiB to at most the guest's memory below 3 GiB ({memoryBytes / Sizes.MiB} MiB here); got 0x{Start:x}-0x{End:x}.",
                "guest");
        }
    }

    /// <summary>The image: the multiboot header (a.out kludge) and a dozen instructions of 32-bit code.</summary>
    public byte[] Image()
    {
        ReadOnlySpan<byte> code =
        [
            0xFA,                               // cli
            0xBE, 0, 0, 0, 0,                   // outer: mov esi, Start
            0xBF, 0, 0, 0, 0,                   //        mov edi, End
            0xFE, 0x06,                         // loop:  inc byte [esi]
            0x81, 0xC6, 0x00, 0x10, 0x00, 0x00, //        add esi, 4096
            0x39, 0xFE,                         //        cmp esi, edi
            0x72, 0xF4,                         //        jb loop
            0xEB, 0xE8,                         //        jmp outer
        ];
        const int header = 32;
        var image = new byte[header + code.Length];
        const uint magic = 0x1BADB002, flags = 0x00010000;
        var end = LoadAddress + (uint)image.Length;
        Span<uint> fields = [magic, flags, unchecked(0u - magic - flags), LoadAddress, LoadAddress, end, end, LoadAddress + header];
        for (var i = 0; i < fields.Length; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(i * 4), fields[i]);
        }

        code.CopyTo(image.AsSpan(header));
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(header + 2), checked((uint)Start));
        BinaryPrimitives.WriteUInt32LittleEndian(image.AsSpan(header + 7), checked((uint)End));
        return image;
    }

    /// <summary>
    /// Checks the invariant on the first bytes of the range's pages (<paramref name="firstBytes"/>, one per page, in
    /// order): null when it holds, else where it breaks.
    /// </summary>
    public static string? Check(ReadOnlySpan<byte> firstBytes)
    {
        var breaks = 0;
        for (var i = 1; i < firstBytes.Length; i++)
        {
            var step = (byte)(firstBytes[i - 1] - firstBytes[i]);
            if (step == 1)
            {
                breaks++;
            }
            else if (step != 0)
            {
                return $"page {i}: first byte {firstBytes[i]} after {firstBytes[i - 1]}";
            }
        }

        // At most one: where the sweep was (none when it had just finished a pass).
        return breaks <= 1 ? null : $"{breaks} places where the first byte drops by one (at most one is the sweep's position)";
    }
}
