using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace VmConsole.Server.Tests;

/// <summary>What the tests of the memory and QEMU routes look at besides the API: the emulator's bytes and the audit log.</summary>
internal static class ApiTestMemory
{
    /// <summary>Bytes of a VM's block straight from the emulator, to check what the API claims.</summary>
    public static byte[] ReadBlock(ConsoleFactory factory, string vm, string idStr, long offset, int length)
    {
        var bytes = new byte[length];
        factory.Emulator.GetVm(vm).RamBlocks.Single(b => b.IdStr == idStr).Read(offset, bytes);
        return bytes;
    }

    /// <summary>Waits (bounded) until the audit log of <paramref name="vm"/> has an entry that <paramref name="match"/> accepts; the log is written in the background.</summary>
    public static async Task<JsonNode> WaitForAuditAsync(HttpClient admin, string vm, Func<JsonNode, bool> match)
    {
        JsonArray entries = [];
        JsonNode? found = null;
        await Eventually.UntilAsync(
            async () =>
            {
                entries = (await admin.GetFromJsonAsync<JsonArray>($"/api/audit?vm={vm}"))!;
                found = entries.FirstOrDefault(e => match(e!));
                return found is not null;
            },
            TimeSpan.FromSeconds(10),
            () => $"no such audit entry for {vm}: {entries.ToJsonString()}");
        return found!;
    }

    /// <summary>Polls GET /api/migrations/{id} until the status is final; the last answer.</summary>
    public static async Task<JsonObject> WaitForMigrationAsync(HttpClient client, string id)
    {
        JsonObject migration = [];
        await Eventually.UntilAsync(
            async () =>
            {
                migration = (await client.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}"))!;
                return migration["status"]!.GetValue<string>() is "completed" or "failed" or "cancelled";
            },
            TimeSpan.FromSeconds(60),
            () => $"migration {id} still {migration["status"]}");
        return migration;
    }
}
