namespace VmConsole.Migration.Qemu;

/// <summary>
/// One VMState as the description after EOF shows it (QEMU's <c>vmstate_save_state</c> with a JSON writer): its
/// fields, each with the bytes one element took on the wire and how many elements (<c>array_len</c>), then the
/// subsections it wrote, in order. Struct fields need not be walked: their <c>size</c> already counts every byte
/// the nested state wrote, its subsections included.
/// </summary>
public sealed record VmStateDescription(string VmsdName, int Version, long FieldBytes, IReadOnlyList<VmStateDescription> Subsections);
