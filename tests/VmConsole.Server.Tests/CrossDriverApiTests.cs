using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using VmConsole.Qemu.Processes;

namespace VmConsole.Server.Tests;

/// <summary>
/// Live migration between drivers through POST /api/migrations, with the real qemu-system-x86_64 behind the configured
/// QEMU hosts: an emulated VM moves to a QEMU host and back to an emulator host, keeping its name, and the migration is
/// in the same list as every other. The factory kills every QEMU process under its runtime directory when it is
/// disposed, even on failure.
/// </summary>
public sealed class CrossDriverApiTests : SignedInApiTest
{
    [Fact]
    public async Task Migrate_EmulatedToQemuHostThenBackToAnEmulatorHost_TheVmChangesDriverAndKeepsItsName()
    {
        var created = await Admin.PostAsJsonAsync("/api/vms", new { name = "xvm-1", host = "host-a", machine = "pc", memoryMiB = 64, start = true });
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var id = (string?)(await Admin.GetFromJsonAsync<JsonObject>("/api/vms/xvm-1"))!["id"];

        var toQemu = await MigrateAsync("xvm-1", "qemu-a");

        var onQemu = (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/xvm-1"))!;
        Assert.Equal("qemu", (string?)onQemu["driver"]);
        Assert.Equal("qemu-a", (string?)onQemu["host"]);
        Assert.Equal(id, (string?)onQemu["id"]);
        Assert.Equal("running", (string?)onQemu["runState"]);
        var pid = (int)onQemu["process"]!["pid"]!;
        Assert.True(QemuInstance.IsProcessAlive(pid));
        Assert.Single((await Admin.GetFromJsonAsync<JsonArray>("/api/vms"))!, v => (string?)v!["name"] == "xvm-1");

        var back = await MigrateAsync("xvm-1", "host-b");

        var onEmulator = (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/xvm-1"))!;
        Assert.Equal("emulator", (string?)onEmulator["driver"]);
        Assert.Equal("host-b", (string?)onEmulator["host"]);
        Assert.Equal("running", (string?)onEmulator["runState"]);
        await VmConsole.TestSupport.Eventually.Until(() => !QemuInstance.IsProcessAlive(pid), failure: () => $"the QEMU process {pid} still runs");
        var listed = await Admin.GetAsync("/api/migrations");
        Assert.True(listed.IsSuccessStatusCode, await listed.Content.ReadAsStringAsync());
        var migrations = (await listed.Content.ReadFromJsonAsync<JsonArray>())!;
        Assert.Contains(migrations, m => (string?)m!["id"] == toQemu);
        Assert.Contains(migrations, m => (string?)m!["id"] == back);
    }

    [Fact]
    public async Task Migrate_QemuToEmulatorHostCancelled_TheQemuVmKeepsTheNameThroughoutAndRunsOn()
    {
        (await Admin.PostAsJsonAsync("/api/vms", new { name = "xvm-3", host = "qemu-a", machine = "pc", memoryMiB = 128, slots = 2, maxMemMiB = 512, guest = "sweep", start = true })).EnsureSuccessStatusCode();
        var pid = (int)(await Admin.GetFromJsonAsync<JsonObject>("/api/vms/xvm-3"))!["process"]!["pid"]!;

        // 1 MiB/s against a guest that keeps dirtying 128 MiB: it is still running when the test acts on it.
        var started = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "xvm-3", destinationHost = "host-a", parameters = new { maxBandwidth = 1 << 20 } });
        Assert.True(started.StatusCode == HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync());
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;

        // While it runs, the name is the QEMU VM's: one entry, the source, with its migration.
        var during = (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/xvm-3"))!;
        Assert.Equal("qemu", (string?)during["driver"]);
        Assert.Equal(id, (string?)during["activeMigrationId"]);
        Assert.Single((await Admin.GetFromJsonAsync<JsonArray>("/api/vms"))!, v => (string?)v!["name"] == "xvm-3");
        // The source is frozen: plugging a DIMM is refused by the console before QEMU is asked (adding a backend no device
        // uses while a migration runs is QemuDriverApiTests' case).
        await ApiErrorTests.AssertProblemAsync(await Admin.PostAsJsonAsync("/api/vms/xvm-3/devices", new { driver = "pc-dimm", id = "m0-dev", memdev = "m0" }), HttpStatusCode.Conflict, "migratable-set-frozen");

        Assert.Equal(HttpStatusCode.Accepted, (await Admin.PostAsync($"/api/migrations/{id}/cancel", null)).StatusCode);
        await VmConsole.TestSupport.Eventually.UntilAsync(
            async () => (string?)(await Admin.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}"))!["status"] == "cancelled",
            TimeSpan.FromSeconds(60));

        await VmConsole.TestSupport.Eventually.UntilAsync(
            async () => (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/xvm-3"))!["activeMigrationId"] is null,
            TimeSpan.FromSeconds(30));
        var vm = (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/xvm-3"))!;
        Assert.Equal("qemu", (string?)vm["driver"]);
        Assert.Equal("running", (string?)vm["runState"]);
        Assert.Equal(pid, (int)vm["process"]!["pid"]!);
        Assert.Single((await Admin.GetFromJsonAsync<JsonArray>("/api/vms"))!, v => (string?)v!["name"] == "xvm-3");
    }

    [Fact]
    public async Task Migrate_AcrossDriversWithACapabilityTheListenerCannotTake_RefusedAndTheVmStays()
    {
        (await Admin.PostAsJsonAsync("/api/vms", new { name = "xvm-2", host = "qemu-a", machine = "pc", memoryMiB = 32, start = true })).EnsureSuccessStatusCode();

        var refused = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "xvm-2", destinationHost = "host-a", capabilities = new { pauseBeforeSwitchover = true } });

        await ApiErrorTests.AssertProblemAsync(refused, HttpStatusCode.BadRequest, "unsupported-capability");
        var vm = (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/xvm-2"))!;
        Assert.Equal("qemu", (string?)vm["driver"]);
        Assert.Equal("running", (string?)vm["runState"]);
        Assert.Null(vm["activeMigrationId"]);
    }

    /// <summary>Starts a migration to <paramref name="host"/>, waits until it has completed and the VM is there; returns its id.</summary>
    private async Task<string> MigrateAsync(string vm, string host)
    {
        var started = await Admin.PostAsJsonAsync("/api/migrations", new { vm, destinationHost = host, parameters = new { maxBandwidth = 1L << 30 }, capabilities = new { autoConverge = true } });
        Assert.True(started.StatusCode == HttpStatusCode.Accepted, await started.Content.ReadAsStringAsync());
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        string? status = null;
        await VmConsole.TestSupport.Eventually.UntilAsync(
            async () => (status = (string?)(await Admin.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}"))!["status"]) is "completed" or "failed" or "cancelled",
            TimeSpan.FromSeconds(120));
        Assert.Equal("completed", status);
        await VmConsole.TestSupport.Eventually.UntilAsync(
            async () => (string?)(await Admin.GetFromJsonAsync<JsonObject>($"/api/vms/{vm}"))!["host"] == host,
            TimeSpan.FromSeconds(30),
            () => $"VM '{vm}' did not show up on {host}");
        return id;
    }
}
