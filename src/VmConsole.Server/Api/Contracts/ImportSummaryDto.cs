namespace VmConsole.Server.Api;

/// <summary>What an import read: the stream's machine type and blocks, the device state it kept, and what it cost.</summary>
public sealed record ImportSummaryDto(
    string MachineType, IReadOnlyList<StreamBlockDto> Blocks, DeviceStateDto DeviceState,
    long BytesRead, long NormalPages, long ZeroPages, double DurationMs);
