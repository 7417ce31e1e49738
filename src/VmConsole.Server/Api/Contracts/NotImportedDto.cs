namespace VmConsole.Server.Api;

/// <summary>A device section of the stream that VmConsole stepped over (its state is not in the VM).</summary>
public sealed record NotImportedDto(string Name, uint InstanceId, uint VersionId, long Bytes);
