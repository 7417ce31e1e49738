using VmConsole.Emulation.Memory;

namespace VmConsole.Emulation.Blocks;

/// <summary>
/// A contiguous piece of guest-addressable host memory (QEMU's RAMBlock): its identity in the stream,
/// its place in ram_addr space, its real bytes and their dirty log.
/// </summary>
/// <remarks>
/// Mutable fields (<see cref="IdStr"/>, <see cref="UsedLength"/>, <see cref="Flags"/>, <see cref="GuestAddress"/>,
/// <see cref="Memory"/>) are written only by the owning <see cref="Vms.Vm"/> under its gate, and read
/// without it (each is a single reference or 8-byte value, published with volatile writes).
/// </remarks>
public sealed class RamBlock
{
    private string _idStr;
    private long _usedLength;
    private int _flags;
    private long _guestAddress = -1;
    private GuestMemory _memory;
    private long _dirtyRateMilli;

    internal RamBlock(int id, string idStr, string? backendId, long offset, long pageSize, long usedLength, long maxLength, RamBlockFlags flags)
    {
        RamBlockRules.ValidateLengths(pageSize, usedLength, maxLength, flags.HasFlag(RamBlockFlags.Resizeable));
        if (flags.HasFlag(RamBlockFlags.Migratable) || idStr.Length > 0)
        {
            RamBlockRules.ValidateIdStr(idStr);
        }

        Id = id;
        _idStr = idStr;
        BackendId = backendId;
        Offset = offset;
        PageSize = pageSize;
        _usedLength = usedLength;
        MaxLength = maxLength;
        _flags = (int)flags;
        _memory = new GuestMemory(maxLength);
        DirtyLog = new DirtyBitmap(maxLength / pageSize);
        RateLog = new DirtyBitmap(maxLength / pageSize);
    }

    /// <summary>Stable id within the VM, for addressing the block (idstr may contain '/').</summary>
    public int Id { get; }

    /// <summary>The block's name in the migration stream; empty for a backend never registered for migration.</summary>
    public string IdStr { get => Volatile.Read(ref _idStr); internal set => Volatile.Write(ref _idStr, value); }

    /// <summary>The memory-backend object's id, for blocks that come from one; null for the machine's own blocks.</summary>
    public string? BackendId { get; }

    /// <summary>What people call the block: its idstr, or its backend id while it has none.</summary>
    public string DisplayName => IdStr.Length > 0 ? IdStr : BackendId ?? $"block {Id}";

    /// <summary>Position in the VM's ram_addr space.</summary>
    public long Offset { get; }

    public long PageSize { get; }

    public long UsedLength { get => Volatile.Read(ref _usedLength); internal set => Volatile.Write(ref _usedLength, value); }

    public long MaxLength { get; }

    public RamBlockFlags Flags { get => (RamBlockFlags)Volatile.Read(ref _flags); internal set => Volatile.Write(ref _flags, (int)value); }

    public bool Migratable => Flags.HasFlag(RamBlockFlags.Migratable);

    public bool Resizeable => Flags.HasFlag(RamBlockFlags.Resizeable);

    public bool Shared => Flags.HasFlag(RamBlockFlags.Shared);

    public bool ReadOnly => Flags.HasFlag(RamBlockFlags.ReadOnly);

    /// <summary>Guest physical address of the block's first byte, or null when the guest cannot see it.</summary>
    public long? GuestAddress
    {
        get => Volatile.Read(ref _guestAddress) is var a && a >= 0 ? a : null;
        internal set => Volatile.Write(ref _guestAddress, value ?? -1);
    }

    public bool GuestVisible => GuestAddress is not null;

    /// <summary>The block's bytes; replaced only by a same-size reload, disposed when the block is freed.</summary>
    public GuestMemory Memory { get => Volatile.Read(ref _memory); internal set => Volatile.Write(ref _memory, value); }

    /// <summary>Pages written since the last migration sync.</summary>
    public DirtyBitmap DirtyLog { get; }

    /// <summary>Pages written since the last dirty-rate sample (a second client of the same writes).</summary>
    internal DirtyBitmap RateLog { get; }

    /// <summary>Distinct pages dirtied per second over the last sample.</summary>
    public double DirtyPagesPerSecond
    {
        get => Volatile.Read(ref _dirtyRateMilli) / 1000.0;
        internal set => Volatile.Write(ref _dirtyRateMilli, (long)(value * 1000));
    }

    public long UsedPages => UsedLength / PageSize;

    /// <summary>The block's entry in the migratable set, or null when it is not migratable.</summary>
    public MigratableIdentity? Identity => Migratable
        ? new MigratableIdentity(IdStr, PageSize, UsedLength, Shared ? GuestAddress : null)
        : null;

    /// <summary>Marks the pages covering [offset, offset+length) dirty for every dirty-log client.</summary>
    internal void MarkDirty(long offset, long length)
    {
        if (length <= 0)
        {
            return;
        }

        var first = offset / PageSize;
        var count = ((offset + length - 1) / PageSize) - first + 1;
        DirtyLog.SetRange(first, count);
        RateLog.SetRange(first, count);
    }

    /// <summary>Writes bytes within used_length and marks them dirty (data first, then the bit).</summary>
    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        CheckUsedRange(offset, source.Length);
        using (var access = AcquireMemory())
        {
            source.CopyTo(access.Span(offset, source.Length));
        }

        MarkDirty(offset, source.Length);
    }

    public void Read(long offset, Span<byte> destination)
    {
        CheckUsedRange(offset, destination.Length);
        using var access = AcquireMemory();
        access.Span(offset, destination.Length).CopyTo(destination);
    }

    /// <summary>
    /// A reference to the block's current bytes. A backing that a ROM reload replaced and disposed between
    /// reading <see cref="Memory"/> and taking the reference is skipped for its replacement; a freed block's
    /// backing still throws <see cref="ObjectDisposedException"/>.
    /// </summary>
    public GuestMemoryAccess AcquireMemory()
    {
        while (true)
        {
            var memory = Memory;
            try
            {
                return memory.Acquire();
            }
            catch (ObjectDisposedException) when (!ReferenceEquals(memory, Memory))
            {
            }
        }
    }

    private void CheckUsedRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset > UsedLength - length)
        {
            throw DomainException.Invalid(ErrorCodes.OutOfRange, $"Range [{offset}, +{length}) is outside RAM block '{DisplayName}' of {UsedLength} bytes.");
        }
    }

    public override string ToString() => $"{DisplayName} @0x{Offset:x} used {UsedLength} max {MaxLength}";
}
