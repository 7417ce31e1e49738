using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Migration.Engine;

namespace VmConsole.Server.Tests;

/// <summary>The JSON the API promises (issue 4): names exactly, values plausible.</summary>
public sealed class ApiShapeTests : SignedInApiTest
{
    [Fact]
    public async Task Vm_Json_HasExactlyItsFields()
    {
        var vm = (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/db-1"))!;

        // The seven, plus slots, maxMemBytes and workload, which the create and workload routes take and show, and
        // what the one face of both drivers adds: driver, features, guest, process and stateReason (null for an emulated VM),
        // and the RAM layout the create route takes: mainRamBackend and numaNodes.
        Assert.Equal(
            ["activeMigrationId", "driver", "features", "guest", "host", "id", "machine", "mainRamBackend", "maxMemBytes", "memoryBytes", "name", "numaNodes", "process", "runState", "slots", "stateReason", "workload"],
            vm.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.True(Guid.TryParse((string?)vm["id"], out _));
        Assert.Equal("db-1", (string?)vm["name"]);
        Assert.Equal("host-a", (string?)vm["host"]);
        Assert.Equal("q35", (string?)vm["machine"]);
        Assert.Equal("running", (string?)vm["runState"]);
        Assert.Equal(1L << 30, (long)vm["memoryBytes"]!);
        Assert.Null(vm["activeMigrationId"]);
        Assert.Equal("emulator", (string?)vm["driver"]);
        Assert.Contains("workload", vm["features"]!.AsArray().Select(f => (string?)f));
        Assert.Null(vm["process"]);
    }

    [Fact]
    public async Task Block_Json_HasExactlyItsFields()
    {
        var blocks = (await Admin.GetFromJsonAsync<JsonArray>("/api/vms/db-1/ramblocks"))!;

        var ram = blocks.Single(b => (string?)b!["idStr"] == "pc.ram")!.AsObject();
        Assert.Equal(
            ["backendId", "deviceId", "dirtyPagesPerSecond", "guestAddress", "guestVisible", "id", "idStr", "maxLength", "migratable", "offset", "pageSize", "readOnly", "resizeable", "shared", "usedLength"],
            ram.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.True((int)ram["id"]! > 0);
        Assert.Null(ram["backendId"]);
        Assert.Equal(4096, (long)ram["pageSize"]!);
        Assert.Equal((long)ram["usedLength"]!, (long)ram["maxLength"]!);
        Assert.True((bool)ram["migratable"]! && (bool)ram["guestVisible"]!);
        Assert.False((bool)ram["resizeable"]! || (bool)ram["shared"]! || (bool)ram["readOnly"]!);
        Assert.Equal(blocks.Count, blocks.Select(b => (int)b!["id"]!).Distinct().Count());
        Assert.Equal(blocks.Count, blocks.Select(b => (long)b!["offset"]!).Distinct().Count());
    }

    [Fact]
    public async Task Migration_Completed_HasEveryStatistic()
    {
        var migratable = (await Admin.GetFromJsonAsync<JsonArray>("/api/vms/tiny-1/ramblocks"))!.Where(b => (bool)b!["migratable"]!).Sum(b => (long)b!["usedLength"]!);
        var started = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "tiny-1", destinationHost = "host-a", parameters = new { maxBandwidth = 64L << 20 }, capabilities = new { autoConverge = true } });
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        await Factory.Services.GetRequiredService<MigrationEngine>().Registry.Get(id).Finished.WaitAsync(TimeSpan.FromSeconds(30));

        var m = (await Admin.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}"))!;

        Assert.Equal("completed", (string?)m["status"]);
        Assert.Equal("host-b", (string?)m["sourceHost"]);
        Assert.Equal("host-a", (string?)m["destinationHost"]);
        Assert.True((long)m["setupTime"]! >= 0);
        Assert.True((long)m["totalTime"]! >= (long)m["setupTime"]!);
        Assert.True((long)m["expectedDowntime"]! >= 0);
        Assert.True((long)m["downtime"]! >= 0);
        Assert.True((long)m["downtime"]! <= (long)m["totalTime"]!);
        var ram = m["ram"]!.AsObject();
        Assert.Equal(
            ["dirtyPagesRate", "dirtySyncCount", "downtimeBytes", "duplicate", "mbps", "normal", "normalBytes", "pageSize", "pagesPerSecond", "precopyBytes", "remaining", "total", "transferred"],
            ram.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal(migratable, (long)ram["total"]!);
        Assert.Equal(0, (long)ram["remaining"]!);
        Assert.Equal(4096, (long)ram["pageSize"]!);
        Assert.Equal((long)ram["normal"]! * 4096, (long)ram["normalBytes"]!);
        Assert.True((long)ram["normal"]! + (long)ram["duplicate"]! >= migratable / 4096, "every page was sent at least once");
        Assert.True((long)ram["transferred"]! >= (long)ram["normalBytes"]!);
        Assert.Equal((long)ram["transferred"]!, (long)ram["precopyBytes"]! + (long)ram["downtimeBytes"]!);
        Assert.True((long)ram["dirtySyncCount"]! >= 1);
        Assert.True((double)ram["mbps"]! >= 0 && (double)ram["dirtyPagesRate"]! >= 0 && (double)ram["pagesPerSecond"]! >= 0);
        Assert.InRange((int)m["cpuThrottlePercentage"]!, 0, 99);
        Assert.True(m.ContainsKey("errorDesc"));
        Assert.Null(m["errorDesc"]);
        Assert.True((bool)m["verified"]!);
        Assert.Equal(["setup", "active", "device", "completed"], m["events"]!.AsArray().Select(e => (string)e!["status"]!));
        Assert.Equal(64L << 20, (long)m["parameters"]!["maxBandwidth"]!);
        Assert.True((bool)m["capabilities"]!["autoConverge"]!);
    }
}
