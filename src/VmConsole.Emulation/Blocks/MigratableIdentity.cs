namespace VmConsole.Emulation.Blocks;

/// <summary>
/// What the migration stream knows of a migratable block, and so what must not change while a migration
/// runs: (idstr, page_size, used_length), plus the guest address when shared memory is skipped.
/// A block that is not migratable has no identity in the set.
/// </summary>
public readonly record struct MigratableIdentity(string IdStr, long PageSize, long UsedLength, long? SharedGuestAddress)
{
    public override string ToString() =>
        $"{IdStr} (page {PageSize}, used {UsedLength}{(SharedGuestAddress is { } a ? $", shared @0x{a:x}" : "")})";
}
