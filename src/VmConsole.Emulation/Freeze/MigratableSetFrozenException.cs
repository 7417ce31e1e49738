namespace VmConsole.Emulation.Freeze;

/// <summary>
/// A change to the migratable set refused because a migration holds the VM's lease
/// (code <c>migratable-set-frozen</c>). Names the operation, the block and the holder.
/// </summary>
public sealed class MigratableSetFrozenException(
    string vm, string operation, string? block, string migrationId, string migrationStatus)
    : DomainException(
        ErrorKind.Conflict,
        ErrorCode,
        block is null
            ? $"Cannot {operation} on VM '{vm}': migration {migrationId} is {migrationStatus} and the set of migratable RAM blocks is frozen until it ends."
            : $"Cannot {operation} RAM block '{block}' of VM '{vm}': migration {migrationId} is {migrationStatus} and the set of migratable RAM blocks is frozen until it ends.")
{
    public const string ErrorCode = ErrorCodes.MigratableSetFrozen;

    public string Vm { get; } = vm;

    public string Operation { get; } = operation;

    /// <summary>The block's display name (idstr, or backend id for an unregistered backend); null for VM-wide operations.</summary>
    public string? Block { get; } = block;

    public string MigrationId { get; } = migrationId;

    public string MigrationStatus { get; } = migrationStatus;
}
