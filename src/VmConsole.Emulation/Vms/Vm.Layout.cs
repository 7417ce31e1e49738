namespace VmConsole.Emulation.Vms;

/// <summary>A VM's RAM layout once made: the guest order of its NUMA nodes, set by the import that received it.</summary>
public sealed partial class Vm
{
    /// <summary>
    /// Puts the NUMA nodes of a VM being received in the guest order its source had (a QEMU stream lists their blocks
    /// largest first): the guest address map and the definition follow. Only while the VM is in inmigrate.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not in inmigrate, or <paramref name="memdevs"/> are not the VM's NUMA memdevs.</exception>
    public void SetNumaNodeOrder(IReadOnlyList<string> memdevs)
    {
        ArgumentNullException.ThrowIfNull(memdevs);
        lock (_gate)
        {
            var nodes = Definition.NumaNodes;
            if (_runState != RunState.InMigrate || memdevs.Count != nodes.Count || !memdevs.Order(StringComparer.Ordinal).SequenceEqual(nodes.Select(n => n.Memdev).Order(StringComparer.Ordinal)))
            {
                throw new InvalidOperationException($"VM '{Name}' cannot take the NUMA order {string.Join(", ", memdevs)}.");
            }

            Definition = Definition with { NumaNodes = [.. memdevs.Select(m => nodes.First(n => n.Memdev == m))] };
            _memory.OrderMainRam(memdevs);
        }

        Raise(VmChangeKind.RamBlocks);
    }
}
