using System.Text.Json;
using System.Text.Json.Serialization;

namespace VmConsole.Migration.Wire;

/// <summary>
/// <see cref="MultifdCompression"/> in JSON as QEMU names it (<c>"none"</c>, <c>"zlib"</c>, <c>"zstd"</c>): the API, the
/// hub and the stored parameters all read the same word QEMU's <c>migrate-set-parameters</c> takes.
/// </summary>
public sealed class MultifdCompressionJsonConverter : JsonConverter<MultifdCompression>
{
    public override MultifdCompression Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        // A number is what parameters stored before this converter existed hold.
        if (reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var stored) && Enum.IsDefined((MultifdCompression)stored))
        {
            return (MultifdCompression)stored;
        }

        if (reader.TokenType == JsonTokenType.String && MultifdCompressionNames.TryParse(reader.GetString(), out var compression))
        {
            return compression;
        }

        throw new JsonException("multifd-compression is none, zlib or zstd.");
    }

    public override void Write(Utf8JsonWriter writer, MultifdCompression value, JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteStringValue(value.ToQemuName());
    }
}
