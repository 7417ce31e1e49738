using VmConsole.Emulation.Blocks;
using VmConsole.Emulation.Freeze;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Vms;

/// <summary>Resizing a resizeable block: from the console (refused while frozen), under a migration's lease, or by the guest (cancels the migration).</summary>
internal sealed partial class VmMemory
{
    /// <inheritdoc cref="Vm.Resize"/>
    public void Resize(int blockId, long usedLength)
    {
        lock (_gate)
        {
            var block = PrepareResize(blockId, usedLength);
            _freeze.Check("resize", block, block.Identity, block.Identity is { } id ? id with { UsedLength = usedLength } : null);
            ApplyResize(block, usedLength);
        }

        _raise(VmChangeKind.RamBlocks);
    }

    /// <inheritdoc cref="Vm.ResizeUnderLease"/>
    public void ResizeUnderLease(MigrationLease lease, int blockId, long usedLength)
    {
        lock (_gate)
        {
            if (!ReferenceEquals(_freeze.Lease, lease))
            {
                throw new InvalidOperationException("Only the migration holding the lease may resize under it.");
            }

            var block = PrepareResize(blockId, usedLength);
            ApplyResize(block, usedLength);
        }

        _raise(VmChangeKind.RamBlocks);
    }

    /// <inheritdoc cref="Vm.GuestResize"/>
    public void GuestResize(int blockId, long usedLength)
    {
        MigrationLease? cancel = null;
        string idStr;
        lock (_gate)
        {
            var block = PrepareResize(blockId, usedLength);
            idStr = block.IdStr;
            if (_freeze.Lease is { } lease && block.Migratable && block.UsedLength != usedLength)
            {
                cancel = lease;
            }

            ApplyResize(block, usedLength);
        }

        cancel?.Holder.RequestCancel($"RAM block '{idStr}' resized during precopy.");
        _raise(VmChangeKind.RamBlocks);
    }

    private RamBlock PrepareResize(int blockId, long usedLength)
    {
        EnsureNotDisposed();
        var block = Get(blockId);
        if (!block.Resizeable)
        {
            throw DomainException.Conflict(ErrorCodes.NotResizeable, $"RAM block '{block.DisplayName}' is not resizeable (its used length is fixed at {Format(block.UsedLength)}).");
        }

        RamBlockRules.ValidateLengths(block.PageSize, usedLength, block.MaxLength, resizeable: true);
        return block;
    }

    private void ApplyResize(RamBlock block, long usedLength)
    {
        if (block.UsedLength == usedLength)
        {
            return;
        }

        block.UsedLength = usedLength;
        block.MarkDirty(0, usedLength);
        Publish();
    }
}
