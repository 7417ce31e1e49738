namespace VmConsole.Server.Api;

public sealed record ExportSummaryDto(string Vm, string Path, string MachineType, IReadOnlyList<StreamBlockDto> Blocks, long BytesWritten, long NormalPages, long ZeroPages);
