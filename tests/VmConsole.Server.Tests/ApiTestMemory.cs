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
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var entries = (await admin.GetFromJsonAsync<JsonArray>($"/api/audit?vm={vm}"))!;
            if (entries.FirstOrDefault(e => match(e!)) is { } found)
            {
                return found;
            }

            Assert.True(DateTime.UtcNow < deadline, $"no such audit entry for {vm}: {entries.ToJsonString()}");
            await Task.Delay(50);
        }
    }

    /// <summary>Polls GET /api/migrations/{id} until the status is final; the last answer.</summary>
    public static async Task<JsonObject> WaitForMigrationAsync(HttpClient client, string id)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var migration = (await client.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}"))!;
            if (migration["status"]!.GetValue<string>() is "completed" or "failed" or "cancelled")
            {
                return migration;
            }

            Assert.True(DateTime.UtcNow < deadline, $"migration {id} still {migration["status"]} after 60 s");
            await Task.Delay(50);
        }
    }
}
