namespace VmConsole.Server.Api;

public sealed record ImportedVmDto(VmDto Vm, ImportSummaryDto Import);
