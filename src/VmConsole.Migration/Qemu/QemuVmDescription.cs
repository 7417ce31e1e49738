using System.Buffers.Binary;
using System.Text.Json;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Qemu;

/// <summary>
/// The JSON description QEMU writes after EOF (<c>{"page_size": 4096, "devices": [...]}</c>, the layout
/// scripts/analyze-migration.py reads): every non-iterable section in stream order, with its field sizes, so
/// that device state VmConsole does not model can be cut into its sections and kept, each with its part.
/// </summary>
public sealed class QemuVmDescription
{
    private readonly Dictionary<(string Name, uint Instance), DeviceSectionDescription> _byName;

    private QemuVmDescription(string json, string fieldsJson, long pageSize, IReadOnlyList<DeviceSectionDescription> devices)
    {
        Json = json;
        FieldsJson = fieldsJson;
        PageSize = pageSize;
        Devices = devices;
        _byName = [];
        foreach (var device in devices)
        {
            _byName.TryAdd((device.Name, device.InstanceId), device);
        }
    }

    public string Json { get; }

    /// <summary>The top-level fields other than <c>devices</c> (<c>page_size</c>, ...), as a JSON object in their order.</summary>
    public string FieldsJson { get; }

    public long PageSize { get; }

    public IReadOnlyList<DeviceSectionDescription> Devices { get; }

    public DeviceSectionDescription? Find(string name, uint instanceId) => _byName.GetValueOrDefault((name, instanceId));

    /// <summary>Parses the description; a malformed one is a <see cref="MigrationStreamException"/>.</summary>
    public static QemuVmDescription Parse(string json)
    {
        try
        {
            using var document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 256 });
            var root = document.RootElement;
            var pageSize = root.TryGetProperty("page_size", out var size) ? size.GetInt64() : QemuFormat.TargetPageSize;
            var devices = new List<DeviceSectionDescription>();
            if (root.TryGetProperty("devices", out var list))
            {
                foreach (var device in list.EnumerateArray())
                {
                    var name = device.GetProperty("name").GetString() ?? "";
                    var instance = device.TryGetProperty("instance_id", out var id) ? id.GetUInt32() : 0;
                    devices.Add(new DeviceSectionDescription(name, instance, ParseState(device, name), device.GetRawText()));
                }
            }

            return new QemuVmDescription(json, OtherFields(root), pageSize, devices);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException or KeyNotFoundException or OverflowException)
        {
            throw new MigrationStreamException($"The VM description after EOF is not valid: {ex.Message}", ex);
        }
    }

    /// <summary>
    /// The description of kept device state, rebuilt from its parts: the other top-level fields as they came, then
    /// <c>devices</c> with each section's object in section order (QEMU writes <c>page_size</c> first, then <c>devices</c>).
    /// </summary>
    public static string Rebuild(DeviceState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            using (var fields = JsonDocument.Parse(state.DescriptionFields))
            {
                foreach (var property in fields.RootElement.EnumerateObject())
                {
                    property.WriteTo(writer);
                }
            }

            writer.WriteStartArray("devices");
            foreach (var section in state.Sections)
            {
                // Text QEMU wrote, kept from a parsed description (nested deeper than the writer checks by default).
                writer.WriteRawValue(section.Description, skipInputValidation: true);
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    /// <summary>
    /// Where the description starts in <paramref name="tail"/>, the end of a stream: after the last NUL byte, the first
    /// '{', which must follow QEMU_VM_VMDESCRIPTION (0x06) and a be32 length reaching exactly to the end (the way
    /// analyze-migration.py finds it). -1 when the tail does not end with a description.
    /// </summary>
    public static int Locate(ReadOnlySpan<byte> tail)
    {
        var nul = tail.LastIndexOf((byte)0);
        if (nul < 0)
        {
            return -1;
        }

        var brace = tail[nul..].IndexOf((byte)'{');
        if (brace < 0)
        {
            return -1;
        }

        var start = nul + brace;
        if (start < 5 || tail[start - 5] != QemuFormat.VmDescription)
        {
            return -1;
        }

        var length = BinaryPrimitives.ReadUInt32BigEndian(tail[(start - 4)..start]);
        return length == (uint)(tail.Length - start) ? start : -1;
    }

    /// <summary>
    /// Reads the description from the end of a seekable stream file without reading the rest, and puts the position
    /// back. Null when the stream does not end with one (QEMU makes it optional).
    /// </summary>
    public static async Task<QemuVmDescription?> ReadFromEndAsync(Stream stream, MigrationStreamLimits limits, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var position = stream.Position;
        try
        {
            var count = (int)Math.Min(stream.Length - position, limits.MaxVmDescriptionBytes + 5L);
            var tail = new byte[count];
            stream.Seek(-count, SeekOrigin.End);
            await stream.ReadExactlyAsync(tail, cancellationToken).ConfigureAwait(false);
            var start = Locate(tail);
            if (start < 0)
            {
                return null;
            }

            if (!WireText.TryDecode(tail.AsSpan(start), out var json))
            {
                throw new MigrationStreamException("The VM description is not valid UTF-8");
            }

            return Parse(json);
        }
        finally
        {
            stream.Position = position;
        }
    }

    /// <summary>The root's properties but <c>devices</c>, written back as they came.</summary>
    private static string OtherFields(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new MigrationStreamException("The VM description after EOF is not valid: it is not a JSON object");
        }

        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            foreach (var property in root.EnumerateObject())
            {
                if (property.NameEquals("devices"))
                {
                    continue;
                }

                property.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return System.Text.Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static VmStateDescription ParseState(JsonElement element, string section)
    {
        var vmsdName = element.TryGetProperty("vmsd_name", out var vmsd) ? vmsd.GetString() ?? section : section;
        var version = element.TryGetProperty("version", out var v) ? v.GetInt32() : 0;
        long bytes = 0;
        if (element.TryGetProperty("fields", out var fields))
        {
            foreach (var field in fields.EnumerateArray())
            {
                var size = field.TryGetProperty("size", out var s) ? s.GetInt64() : 0;
                var count = field.TryGetProperty("array_len", out var n) ? n.GetInt64() : 1;
                if (size < 0 || count < 0 || size > int.MaxValue || count > int.MaxValue)
                {
                    throw new MigrationStreamException($"The VM description gives field '{field.GetProperty("name").GetString()}' of '{vmsdName}' an impossible size");
                }

                bytes = checked(bytes + (size * count));
            }
        }

        var subsections = new List<VmStateDescription>();
        if (element.TryGetProperty("subsections", out var subs))
        {
            foreach (var sub in subs.EnumerateArray())
            {
                subsections.Add(ParseState(sub, section));
            }
        }

        return new VmStateDescription(vmsdName, version, bytes, subsections);
    }
}
