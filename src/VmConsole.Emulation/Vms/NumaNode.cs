namespace VmConsole.Emulation.Vms;

/// <summary>
/// A NUMA node of a VM and the memory backend that holds its RAM (<c>-object memory-backend-ram,id=MEMDEV,size=SIZE
/// -numa node,memdev=MEMDEV</c>): its block is named MEMDEV, and the guest sees the nodes' RAM laid end to end.
/// </summary>
public sealed record NumaNode(string Memdev, long SizeBytes);
