using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using VmConsole.Emulation.Blocks;

namespace VmConsole.Emulation.Tests;

public sealed class RamBlockRulesTests
{
    [Theory]
    [InlineData("pc.ram")]
    [InlineData("/rom@etc/acpi/tables")]
    [InlineData("0000:00:02.0/virtio-net-pci.rom")]
    [InlineData("a")]
    public void ValidateIdStr_QemuStyleName_Accepted(string idStr) => RamBlockRules.ValidateIdStr(idStr);

    [Fact]
    public void ValidateIdStr_Empty_InvalidIdStr() => Expect.Code("invalid-idstr", () => RamBlockRules.ValidateIdStr(""));

    [Fact]
    public void ValidateIdStr_ContainsNul_InvalidIdStr() => Expect.Code("invalid-idstr", () => RamBlockRules.ValidateIdStr("pc\0ram"));

    [Fact]
    public void ValidateIdStr_Null_ArgumentNullException() => Assert.Throws<ArgumentNullException>(() => RamBlockRules.ValidateIdStr(null!));

    [Theory]
    [InlineData("a", 255)]
    [InlineData("é", 127)] // 2 bytes each
    [InlineData("€", 85)] // 3 bytes each
    public void ValidateIdStr_Exactly255Utf8Bytes_Accepted(string unit, int repeat)
    {
        var idStr = string.Concat(Enumerable.Repeat(unit, repeat));
        idStr += new string('a', 255 - Encoding.UTF8.GetByteCount(idStr));
        Assert.Equal(255, Encoding.UTF8.GetByteCount(idStr));

        RamBlockRules.ValidateIdStr(idStr);
    }

    [Theory]
    [InlineData("a", 256, 256)]
    [InlineData("é", 128, 256)] // 128 characters, 256 bytes
    [InlineData("€", 86, 258)] // 86 characters, 258 bytes
    [InlineData("😀", 64, 256)] // 64 code points as surrogate pairs, 4 bytes each
    public void ValidateIdStr_MoreThan255Utf8Bytes_IdStrTooLong(string unit, int repeat, int expectedBytes)
    {
        var idStr = string.Concat(Enumerable.Repeat(unit, repeat));
        Assert.Equal(expectedBytes, Encoding.UTF8.GetByteCount(idStr));
        Assert.True(idStr.Length <= 256);

        var exception = Expect.Code("idstr-too-long", () => RamBlockRules.ValidateIdStr(idStr));
        Assert.Contains(expectedBytes.ToString(System.Globalization.CultureInfo.InvariantCulture), exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateIdStr_MultiByteCharCrossingTheBoundary_IdStrTooLong()
    {
        // 254 ASCII bytes then a 2-byte character: 255 characters would fit, 256 bytes do not.
        var idStr = new string('a', 254) + "é";

        Expect.Code("idstr-too-long", () => RamBlockRules.ValidateIdStr(idStr));
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(8192)]
    [InlineData(2 * 1024 * 1024)]
    [InlineData(1L << 30)]
    public void ValidatePageSize_PowerOfTwoAtLeast4096_Accepted(long pageSize) => RamBlockRules.ValidatePageSize(pageSize);

    [Theory]
    [InlineData(0)]
    [InlineData(-4096)]
    [InlineData(2048)]
    [InlineData(4095)]
    [InlineData(4097)]
    [InlineData(12288)]
    public void ValidatePageSize_NotPowerOfTwoOrTooSmall_InvalidPageSize(long pageSize) =>
        Expect.Code("invalid-page-size", () => RamBlockRules.ValidatePageSize(pageSize));

    [Theory]
    [InlineData(4096, 4096, 4096, false)]
    [InlineData(4096, 128 * 1024, 2 * 1024 * 1024, true)]
    [InlineData(4096, 2 * 1024 * 1024, 2 * 1024 * 1024, true)]
    [InlineData(2 * 1024 * 1024, 4 * 1024 * 1024, 4 * 1024 * 1024, false)]
    public void ValidateLengths_ValidBlock_Accepted(long pageSize, long used, long max, bool resizeable) =>
        RamBlockRules.ValidateLengths(pageSize, used, max, resizeable);

    [Theory]
    [InlineData(3000, 4096, 4096, false, "invalid-page-size")]
    [InlineData(4096, 0, 4096, true, "invalid-used-length")]
    [InlineData(4096, -4096, 4096, true, "invalid-used-length")]
    [InlineData(4096, 4097, 8192, true, "unaligned-used-length")]
    [InlineData(8192, 4096, 8192, true, "unaligned-used-length")]
    [InlineData(4096, 4096, 6000, true, "unaligned-max-length")]
    [InlineData(4096, 8192, 4096, true, "used-length-exceeds-max")]
    [InlineData(4096, 8192, 4096, false, "used-length-exceeds-max")]
    [InlineData(4096, 4096, 8192, false, "max-length-mismatch")]
    public void ValidateLengths_BrokenRule_ThatRulesCode(long pageSize, long used, long max, bool resizeable, string code) =>
        Expect.Code(code, () => RamBlockRules.ValidateLengths(pageSize, used, max, resizeable));

    [Fact]
    public void ValidateLengths_Refusal_IsInvalidKind()
    {
        var exception = Expect.Code("max-length-mismatch", () => RamBlockRules.ValidateLengths(4096, 4096, 8192, resizeable: false));

        Assert.Equal(ErrorKind.Invalid, exception.Kind);
    }

    /// <summary>Small multiples of 2 KiB, so that page-aligned and unaligned values both come up often.</summary>
    private static readonly Gen<long> LengthGen =
        Gen.OneOf(
            Gen.Choose(-2, 40).Select(n => n * 2048L),
            Gen.Choose(-5, 5).Select(n => (n * 4096L) + 1),
            Gen.Elements(0L, 4096L, 1L << 21, (1L << 21) + 4096, 1L << 30));

    private static readonly Gen<long> PageSizeGen =
        Gen.OneOf(
            Gen.Elements(0L, 1024L, 2048L, 4096L, 8192L, 16384L, 65536L, 1L << 21, 3 * 4096L, 4095L, 4097L, -4096L),
            Gen.Choose(0, 40).Select(n => 1L << n));

    private static readonly Arbitrary<(long PageSize, long Used, long Max, bool Resizeable)> BlockShapes =
        (from pageSize in PageSizeGen
         from used in LengthGen
         from max in Gen.OneOf(LengthGen, Gen.Constant(used))
         from resizeable in Gen.Elements(false, true)
         select (pageSize, used, max, resizeable)).ToArbitrary();

    [Property(MaxTest = 2000)]
    public Property ValidateLengths_RandomShape_AcceptsExactlyWhenEveryRuleHolds() =>
        Prop.ForAll(BlockShapes, shape =>
        {
            var (pageSize, used, max, resizeable) = shape;

            // The rules of DESIGN.md section 2, written out independently of the validator.
            var broken = new List<string>();
            var pageSizeOk = pageSize >= 4096 && (pageSize & (pageSize - 1)) == 0;
            if (!pageSizeOk)
            {
                broken.Add("invalid-page-size");
            }
            else
            {
                if (used <= 0)
                {
                    broken.Add("invalid-used-length");
                }
                else if (used % pageSize != 0)
                {
                    broken.Add("unaligned-used-length");
                }

                if (max % pageSize != 0)
                {
                    broken.Add("unaligned-max-length");
                }

                if (used > max)
                {
                    broken.Add("used-length-exceeds-max");
                }

                if (!resizeable && used != max)
                {
                    broken.Add("max-length-mismatch");
                }
            }

            string? refusedWith = null;
            try
            {
                RamBlockRules.ValidateLengths(pageSize, used, max, resizeable);
            }
            catch (DomainException exception)
            {
                refusedWith = exception.Code;
            }

            return (refusedWith is null ? broken.Count == 0 : broken.Contains(refusedWith))
                .Label($"page {pageSize} used {used} max {max} resizeable {resizeable}: refused with {refusedWith ?? "nothing"}, broken rules [{string.Join(", ", broken)}]");
        });

    [Property(MaxTest = 500)]
    public Property ValidateIdStr_RandomString_AcceptsExactlyOneTo255BytesWithoutNul() =>
        Prop.ForAll(
            Gen.OneOf(
                    ArbMap.Default.GeneratorFor<UnicodeString>().Select(s => s.Item ?? ""),
                    Gen.Choose(0, 300).Select(n => new string('x', n)),
                    Gen.Choose(100, 140).Select(n => string.Concat(Enumerable.Repeat("ß", n))))
                .ToArbitrary(),
            idStr =>
            {
                var bytes = Encoding.UTF8.GetByteCount(idStr);
                var expectedOk = bytes is >= 1 and <= 255 && !idStr.Contains('\0', StringComparison.Ordinal);
                bool ok;
                try
                {
                    RamBlockRules.ValidateIdStr(idStr);
                    ok = true;
                }
                catch (DomainException exception) when (exception.Code is "invalid-idstr" or "idstr-too-long")
                {
                    ok = false;
                }

                return (ok == expectedOk).Label($"{bytes} bytes: validator {(ok ? "accepted" : "refused")}");
            });
}
