using System.Buffers.Binary;
using System.Text;
using VmConsole.Emulation.Vms;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// QEMU's <c>globalstate</c> device section (migration/global_state.c, version 1): the source's run state when the
/// migration stopped it (be32 size, then a 100-byte buffer holding the name, NUL-terminated). A QEMU destination
/// runs the guest only when it says <c>running</c> (or is absent), and takes its state otherwise. The console reads it
/// when a VM arrives from QEMU and writes the VM's own run state into it when the VM goes back, as QEMU's source
/// stores it afresh at every migration.
/// </summary>
public static class QemuGlobalState
{
    public const string IdStr = "globalstate";

    private const int BufferLength = 100;
    private const int StateLength = 4 + BufferLength;

    /// <summary>The run state name the kept <c>globalstate</c> section holds, or null when there is none (or it is not the 7.2 layout).</summary>
    public static string? RunStateOf(DeviceState? state)
    {
        if (Find(state) is not { } section)
        {
            return null;
        }

        var buffer = section.State.Span.Slice(4, BufferLength);
        var end = buffer.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? buffer : buffer[..end]);
    }

    /// <summary>Whether a VM arriving with <paramref name="state"/> runs, as QEMU's destination decides (<c>process_incoming_migration_bh</c>).</summary>
    public static bool ArrivesRunning(DeviceState? state) => RunStateOf(state) is null or "running";

    /// <summary>
    /// <paramref name="state"/> with its <c>globalstate</c> section saying <paramref name="running"/> or <c>paused</c>
    /// (every other section unchanged); the same object when it has no such section.
    /// </summary>
    public static DeviceState? WithRunState(DeviceState? state, bool running)
    {
        if (state is null || Find(state) is not { } section)
        {
            return state;
        }

        var name = running ? "running"u8 : "paused"u8;
        var bytes = new byte[StateLength];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)name.Length + 1);
        name.CopyTo(bytes.AsSpan(4));
        if (bytes.AsSpan().SequenceEqual(section.State.Span))
        {
            return state;
        }

        return new DeviceState(state.Sections.Select(s => s == section ? s with { State = bytes } : s), state.DescriptionFields);
    }

    private static DeviceSection? Find(DeviceState? state) =>
        state?.Sections.FirstOrDefault(s => s is { IdStr: IdStr, InstanceId: 0, VersionId: 1 } && s.State.Length == StateLength);
}
