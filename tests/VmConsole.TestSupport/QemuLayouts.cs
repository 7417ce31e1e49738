namespace VmConsole.TestSupport;

/// <summary>
/// RAM layouts QEMU 7.2 makes, as a user (or libvirt) types them, with places in each of their RAM blocks to write
/// through qtest and read back wherever the VM went: memory-backend=ID on microvm and q35, q35 with two NUMA nodes on
/// two memdevs (equal and unequal), q35 with three pc-dimms.
/// </summary>
public static class QemuLayouts
{
    public static IReadOnlyList<string> All { get; } = ["microvm-backend", "q35-backend", "q35-numa", "q35-numa-unequal", "q35-dimms"];

    /// <summary>The QEMU arguments of a layout (machine and memory only: <see cref="QemuProcess"/> adds the rest).</summary>
    public static string[] Arguments(string layout) => layout switch
    {
        "microvm-backend" => ["-M", "microvm,memory-backend=mem", "-m", "16M", "-object", "memory-backend-ram,id=mem,size=16M"],
        "q35-backend" => ["-M", "q35,memory-backend=ram0", "-m", "128M", "-object", "memory-backend-ram,id=ram0,size=128M"],
        "q35-numa" => [
            "-M", "q35", "-m", "128M",
            "-object", "memory-backend-ram,id=m0,size=64M", "-object", "memory-backend-ram,id=m1,size=64M",
            "-numa", "node,memdev=m0", "-numa", "node,memdev=m1",
        ],
        "q35-numa-unequal" => [
            "-M", "q35", "-m", "128M",
            "-object", "memory-backend-ram,id=m0,size=32M", "-object", "memory-backend-ram,id=m1,size=96M",
            "-numa", "node,memdev=m0", "-numa", "node,memdev=m1",
        ],
        "q35-dimms" => [
            "-M", "q35", "-m", "128M,slots=4,maxmem=1G",
            "-object", "memory-backend-ram,id=d0,size=64M", "-object", "memory-backend-ram,id=d1,size=32M", "-object", "memory-backend-ram,id=d2,size=16M",
            "-device", "pc-dimm,id=dimm0,memdev=d0", "-device", "pc-dimm,id=dimm1,memdev=d1", "-device", "pc-dimm,id=dimm2,memdev=d2",
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(layout)),
    };

    /// <summary>Guest-physical places in every RAM block of the layout, and across the two NUMA nodes' boundary.</summary>
    public static async Task<(long Address, int Length)[]> PlacesAsync(string layout, QemuProcess qemu)
    {
        ArgumentNullException.ThrowIfNull(qemu);
        switch (layout)
        {
            case "microvm-backend":
                return [(0x1000, 1), (0x23_4567, 8), (0xFF_F000, 4096)];
            case "q35-backend":
                return [(0x1000, 1), (0x123_4567, 8), (0x7FF_F000, 4096)];
            case "q35-numa":
                return [(0x2000, 1), (0x3FF_F800, 4096), (0x400_0000, 16), (0x7FF_F000, 4096)];
            case "q35-numa-unequal":
                return [(0x2000, 1), (0x1FF_F800, 4096), (0x200_0000, 16), (0x7FF_F000, 4096)];
            default:
                var dimms = (await qemu.QmpAsync("query-memory-devices"))!.AsArray().Select(d => d!["data"]!["addr"]!.GetValue<long>()).ToList();
                if (dimms.Count != 3)
                {
                    throw new InvalidOperationException($"QEMU has {dimms.Count} memory devices, not the layout's 3.");
                }

                return [(0x1000, 1), (0x7FF_F000, 4096), .. dimms.SelectMany(a => new[] { (a + 0x10, 16), (a + 0xF_F000, 4096) })];
        }
    }

    /// <summary>Writes <see cref="Pattern"/> at every place through qtest.</summary>
    public static async Task WriteAsync(QemuProcess qemu, IEnumerable<(long Address, int Length)> places)
    {
        ArgumentNullException.ThrowIfNull(qemu);
        ArgumentNullException.ThrowIfNull(places);
        foreach (var (address, length) in places)
        {
            await qemu.WriteAsync(address, Pattern(address, length));
        }
    }

    /// <summary>Distinct, non-zero bytes for an address, so that a page landing at the wrong place shows.</summary>
    public static byte[] Pattern(long address, int length) =>
        [.. Enumerable.Range(0, length).Select(i => (byte)((((address + i) >> 12) * 31 + (address + i) * 7 + 1) % 251 + 1))];
}
