using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Qemu.Driver;
using VmConsole.Qemu.Processes;

namespace VmConsole.Server.Tests;

/// <summary>
/// QEMU VMs through the console's API, with the real qemu-system-x86_64 behind the configured QEMU hosts (qemu-a,
/// qemu-b). The factory kills every QEMU process under its runtime directory when it is disposed, even on failure.
/// </summary>
public sealed class QemuDriverApiTests : SignedInApiTest
{
    [Fact]
    public async Task Hosts_ListBothDriversWithTheQemuHostsAvailable()
    {
        var hosts = (await Admin.GetFromJsonAsync<JsonArray>("/api/hosts"))!;

        Assert.Contains(hosts, h => (string?)h!["name"] == "host-a" && (string?)h["driver"] == "emulator");
        var qemu = hosts.Single(h => (string?)h!["name"] == "qemu-a")!;
        Assert.Equal("qemu", (string?)qemu["driver"]);
        Assert.Null(qemu["unavailableReason"]);
    }

    [Fact]
    public async Task QemuVm_CreatedStartedInspectedAndDeleted_TheApiShowsWhatQemuReports()
    {
        var created = await Admin.PostAsJsonAsync("/api/vms", new { name = "qvm-1", host = "qemu-a", machine = "pc", memoryMiB = 64, slots = 2, maxMemMiB = 512, guest = "sweep", start = true });
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var vm = (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/qvm-1"))!;
        Assert.Equal("qemu", (string?)vm["driver"]);
        Assert.Equal("running", (string?)vm["runState"]);
        Assert.Equal("sweep", (string?)vm["guest"]);
        Assert.Null(vm["workload"]);
        var pid = (int)vm["process"]!["pid"]!;
        Assert.True(QemuInstance.IsProcessAlive(pid));
        Assert.Equal(["-name", "qvm-1"], vm["process"]!["commandLine"]!.AsArray().Take(2).Select(a => (string?)a));
        Assert.Contains((await Admin.GetFromJsonAsync<JsonArray>("/api/vms"))!, v => (string?)v!["name"] == "qvm-1");

        var added = await Admin.PostAsJsonAsync("/api/vms/qvm-1/ramblocks", new { backendId = "dimm0", sizeBytes = 64 << 20 });
        Assert.Equal(HttpStatusCode.Created, added.StatusCode);
        var plugged = await Admin.PostAsJsonAsync("/api/vms/qvm-1/devices", new { driver = "pc-dimm", id = "dimm0-dev", memdev = "dimm0" });
        Assert.Equal(HttpStatusCode.Created, plugged.StatusCode);

        // The table through the API is QEMU's own (x-query-ramblock joined with its backends and devices); the machine's
        // own memdev (pc.ram) is shown as the machine's, not as a backend to plug or free.
        var domain = Factory.Services.GetRequiredService<QemuDriver>().GetDomain("qvm-1");
        var qemu = await domain.Running!.RamBlocksAsync();
        var api = (await Admin.GetFromJsonAsync<JsonArray>("/api/vms/qvm-1/ramblocks"))!;
        Assert.Equal(
            qemu.Select(b => (b.IdStr, b.Offset, b.UsedLength, b.MaxLength, b.Migratable, b.BackendId == "dimm0" ? "dimm0" : null, b.DeviceId)),
            api.Select(b => ((string)b!["idStr"]!, (long)b["offset"]!, (long)b["usedLength"]!, (long)b["maxLength"]!, (bool)b["migratable"]!, (string?)b["backendId"], (string?)b["deviceId"])));
        var devices = (await Admin.GetFromJsonAsync<JsonArray>("/api/vms/qvm-1/devices"))!;
        Assert.Equal("dimm0", (string?)Assert.Single(devices)!["memdev"]);

        // What only the emulator models is refused as data, before QEMU is asked.
        await ApiErrorTests.AssertProblemAsync(await Admin.PutAsJsonAsync("/api/vms/qvm-1/workload", new { kind = "uniform", pagesPerSecond = 100 }), HttpStatusCode.Conflict, "not-supported-by-driver");
        var pcRam = api.Single(b => (string?)b!["idStr"] == "pc.ram")!;
        await ApiErrorTests.AssertProblemAsync(await Admin.PutAsJsonAsync($"/api/vms/qvm-1/ramblocks/{(int)pcRam["id"]!}/migratable", new { migratable = false }), HttpStatusCode.Conflict, "not-supported-by-driver");
        await ApiErrorTests.AssertProblemAsync(await Admin.PostAsync("/api/vms/qvm-1/export", null), HttpStatusCode.Conflict, "not-supported-by-driver");

        var bytes = await Admin.GetByteArrayAsync("/api/vms/qvm-1/memory?address=2097152&length=16");
        Assert.Equal(16, bytes.Length);
        await ApiErrorTests.AssertProblemAsync(await Admin.GetAsync("/api/vms/qvm-1/memory?address=-1"), HttpStatusCode.BadRequest, "validation-failed");

        var paused = await Admin.PostAsJsonAsync("/api/vms/qvm-1/power", new { action = "pause" });
        Assert.Equal("paused", (string?)(await paused.Content.ReadFromJsonAsync<JsonObject>())!["runState"]);

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync("/api/vms/qvm-1")).StatusCode);
        Assert.False(QemuInstance.IsProcessAlive(pid));
        await ApiErrorTests.AssertProblemAsync(await Admin.GetAsync("/api/vms/qvm-1"), HttpStatusCode.NotFound, "vm-not-found");
    }

    [Fact]
    public async Task QemuMigration_ThroughTheApi_FrozenDuringItThenCancelledWithTheSourceRunningAndNoDestinationLeft()
    {
        (await Admin.PostAsJsonAsync("/api/vms", new { name = "qmig-1", host = "qemu-a", machine = "pc", memoryMiB = 256, slots = 2, maxMemMiB = 1024, guest = "sweep", start = true })).EnsureSuccessStatusCode();
        (await Admin.PostAsJsonAsync("/api/vms/qmig-1/ramblocks", new { backendId = "spare0", sizeBytes = 32 << 20 })).EnsureSuccessStatusCode();

        // 1 MiB/s against a 256 MiB guest that keeps dirtying: it is still running when the test acts on it.
        var started = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "qmig-1", destinationHost = "qemu-b", parameters = new { maxBandwidth = 1 << 20 } });
        Assert.True(started.StatusCode == HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync());
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        Assert.Equal(id, (string?)(await Admin.GetFromJsonAsync<JsonObject>("/api/vms/qmig-1"))!["activeMigrationId"]);

        await ApiErrorTests.AssertProblemAsync(await Admin.PostAsJsonAsync("/api/vms/qmig-1/devices", new { driver = "pc-dimm", id = "spare0-dev", memdev = "spare0" }), HttpStatusCode.Conflict, "migratable-set-frozen");
        await ApiErrorTests.AssertProblemAsync(await Admin.PostAsJsonAsync("/api/migrations", new { vm = "qmig-1", destinationHost = "qemu-b" }), HttpStatusCode.Conflict, "migratable-set-frozen");
        // A backend no device uses stays free to come and go.
        var extra = await Admin.PostAsJsonAsync("/api/vms/qmig-1/ramblocks", new { backendId = "extra0", sizeBytes = 16 << 20 });
        Assert.Equal(HttpStatusCode.Created, extra.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync($"/api/vms/qmig-1/ramblocks/{(int)(await extra.Content.ReadFromJsonAsync<JsonObject>())!["id"]!}")).StatusCode);

        Assert.Equal(HttpStatusCode.Accepted, (await Admin.PostAsync($"/api/migrations/{id}/cancel", null)).StatusCode);
        await VmConsole.TestSupport.Eventually.UntilAsync(
            async () => (string?)(await Admin.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}"))!["status"] == "cancelled",
            TimeSpan.FromSeconds(60));

        var vm = (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/qmig-1"))!;
        Assert.Equal("running", (string?)vm["runState"]);
        Assert.Equal("qemu-a", (string?)vm["host"]);
        Assert.Null(vm["activeMigrationId"]);
        var destination = Path.Combine(Factory.QemuDirectory, "qemu-b", "vms", "qmig-1", QemuCommandLine.PidFile);
        Assert.True(!File.Exists(destination) || !QemuInstance.IsProcessAlive(int.Parse(await File.ReadAllTextAsync(destination), System.Globalization.CultureInfo.InvariantCulture)));
    }

    [Fact]
    public async Task QemuMissing_HostsUnavailableWithTheReason_CreateRefusedAndEmulatedVmsUnaffected()
    {
        await using var factory = new ConsoleFactory(settings: new Dictionary<string, string?> { ["Qemu:Binary"] = "/nonexistent/qemu-system-x86_64" });
        using var admin = await factory.CreateSignedInClientAsync();

        var hosts = (await admin.GetFromJsonAsync<JsonArray>("/api/hosts"))!;
        var qemu = hosts.Single(h => (string?)h!["name"] == "qemu-a")!;
        Assert.Contains("not found", (string?)qemu["unavailableReason"], StringComparison.Ordinal);
        await ApiErrorTests.AssertProblemAsync(
            await admin.PostAsJsonAsync("/api/vms", new { name = "nope-1", host = "qemu-a", machine = "pc", memoryMiB = 64 }), HttpStatusCode.Conflict, "host-unavailable");
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/vms", new { name = "fine-1", host = "host-a", machine = "q35", memoryMiB = 64 })).StatusCode);
    }
}
