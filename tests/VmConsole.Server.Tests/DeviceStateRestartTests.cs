using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Emulation.Vms;
using VmConsole.Persistence;

namespace VmConsole.Server.Tests;

/// <summary>The CPU and device state QEMU sent with a VM is stored with it: after a restart it is there, byte for byte, in its order.</summary>
public sealed class DeviceStateRestartTests : IDisposable
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"vmconsole-devstate-{Guid.NewGuid():N}.db");

    [Fact]
    public async Task DeviceState_KeptOnAVm_SameSectionsBytesAndDescriptionAfterRestart()
    {
        var state = new DeviceState(
            [
                new DeviceSection("timer", 0, 2, new byte[] { 0, 1, 2, 0xFF }, """{"name":"timer","instance_id":0,"fields":[]}"""),
                new DeviceSection("cpu", 0, 12, Enumerable.Range(0, 5000).Select(i => (byte)(i * 7)).ToArray(), """{"name":"cpu","instance_id":0}"""),
                new DeviceSection("globalstate", 0, 1, new byte[] { 9 }, """{"name":"globalstate"}"""),
            ],
            """{"page_size":4096}""");
        await using (var first = new ConsoleFactory(databaseFile: _database, keepDatabase: true))
        {
            using var client = await first.CreateSignedInClientAsync();
            first.Emulator.GetVm("db-1").SetDeviceState(state);
            var contexts = first.Services.GetRequiredService<IDbContextFactory<ConsoleDbContext>>();
            await Eventually.UntilAsync(
                async () =>
                {
                    await using var db = await contexts.CreateDbContextAsync();
                    return (await db.Vms.AsNoTracking().Include(v => v.DeviceSections).SingleAsync(v => v.Name == "db-1")).DeviceSections.Count == 3;
                },
                TimeSpan.FromSeconds(30),
                () => "the device state was never stored");
        }

        await using var second = new ConsoleFactory(databaseFile: _database);
        using var again = await second.CreateSignedInClientAsync();

        var restored = second.Emulator.GetVm("db-1").DeviceState!;
        Assert.Equal(state.Sections.Select(s => (s.IdStr, s.InstanceId, s.VersionId, s.Description)), restored.Sections.Select(s => (s.IdStr, s.InstanceId, s.VersionId, s.Description)));
        Assert.Equal(state.Sections.Select(s => s.State.ToArray()), restored.Sections.Select(s => s.State.ToArray()));
        Assert.Equal(state.DescriptionFields, restored.DescriptionFields);
        var api = (await again.GetFromJsonAsync<JsonObject>("/api/vms/db-1/device-state"))!;
        Assert.True((bool)api["carried"]!);
        Assert.Equal(["timer", "cpu", "globalstate"], api["sections"]!.AsArray().Select(s => (string)s!["name"]!));
        Assert.Equal(5000, (long)api["sections"]![1]!["bytes"]!);
        var none = (await again.GetFromJsonAsync<JsonObject>("/api/vms/web-1/device-state"))!;
        Assert.False((bool)none["carried"]!);
        Assert.Contains("QEMU boots it from reset", (string)none["note"]!, StringComparison.Ordinal);
    }

    public void Dispose()
    {
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }
}
