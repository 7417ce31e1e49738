using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;

namespace VmConsole.Server.Tests;

/// <summary>Each route's success, and the errors particular to it.</summary>
public sealed class ApiRouteTests : SignedInApiTest
{
    [Fact]
    public async Task Hosts_ListsBothWithReservations()
    {
        var hosts = (await Admin.GetFromJsonAsync<JsonArray>("/api/hosts"))!;

        // The emulator's two seeded hosts, then the QEMU driver's two (empty: tests do not seed QEMU VMs).
        Assert.Equal(["host-a", "host-b", "qemu-a", "qemu-b"], hosts.Select(h => (string)h!["name"]!));
        Assert.Equal(["emulator", "emulator", "qemu", "qemu"], hosts.Select(h => (string)h!["driver"]!));
        Assert.True((long)hosts[0]!["reservedBytes"]! > 1L << 30);
        Assert.Equal(2, (int)hosts[0]!["vmCount"]!);
        Assert.Equal(0, (int)hosts[2]!["vmCount"]!);
    }

    [Fact]
    public async Task Vms_ListAndDelete_TheVmIsGoneAndItsMemoryFreed()
    {
        Assert.Equal(3, (await Admin.GetFromJsonAsync<JsonArray>("/api/vms"))!.Count);

        var deleted = await Admin.DeleteAsync(new Uri("/api/vms/tiny-1", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.GetAsync(new Uri("/api/vms/tiny-1", UriKind.Relative))).StatusCode);
        var hostB = (await Admin.GetFromJsonAsync<JsonArray>("/api/hosts"))!.Single(h => (string?)h!["name"] == "host-b")!;
        Assert.Equal(0, (long)hostB["reservedBytes"]!);
    }

    [Fact]
    public async Task Workload_Set_IsWhatTheVmRuns()
    {
        var response = await Admin.PutAsJsonAsync("/api/vms/db-1/workload", new { kind = "hotspot", pagesPerSecond = 1500, workingSetMiB = 64 });

        var vm = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.Equal("hotspot", (string?)vm!["workload"]!["kind"]);
        Assert.Equal(64L << 20, (long)vm["workload"]!["workingSetBytes"]!);
        var tooBig = await Admin.PutAsJsonAsync("/api/vms/tiny-1/workload", new { kind = "uniform", pagesPerSecond = 10, workingSetMiB = 64 });
        Assert.Equal("invalid-working-set", (string?)JsonNode.Parse(await tooBig.Content.ReadAsStringAsync())!["code"]);
    }

    [Fact]
    public async Task Power_PauseThenResume_ChangesTheRunState()
    {
        var paused = await Admin.PostAsJsonAsync("/api/vms/web-1/power", new { action = "pause" });
        var resumed = await Admin.PostAsJsonAsync("/api/vms/web-1/power", new { action = "Resume" });

        Assert.Equal("paused", (string?)(await paused.Content.ReadFromJsonAsync<JsonObject>())!["runState"]);
        Assert.Equal("running", (string?)(await resumed.Content.ReadFromJsonAsync<JsonObject>())!["runState"]);
    }

    [Fact]
    public async Task Blocks_AddPlugResizeUnplugFree_FollowQemusRules()
    {
        var added = await Admin.PostAsJsonAsync("/api/vms/db-1/ramblocks", new { backendId = "mem9", sizeBytes = 32 << 20 });
        var block = (await added.Content.ReadFromJsonAsync<JsonObject>())!;
        var id = (int)block["id"]!;
        Assert.Equal("", (string?)block["idStr"]);

        var plugged = await Admin.PostAsJsonAsync("/api/vms/db-1/devices", new { driver = "pc-dimm", id = "dimm9", memdev = "mem9" });
        Assert.Equal(HttpStatusCode.Created, plugged.StatusCode);
        var busy = await Admin.DeleteAsync(new Uri($"/api/vms/db-1/ramblocks/{id}", UriKind.Relative));
        Assert.Equal("backend-in-use", (string?)JsonNode.Parse(await busy.Content.ReadAsStringAsync())!["code"]);
        Assert.Contains((await Admin.GetFromJsonAsync<JsonArray>("/api/vms/db-1/devices"))!, d => (string?)d!["id"] == "dimm9");

        var tables = (await Admin.GetFromJsonAsync<JsonArray>("/api/vms/db-1/ramblocks"))!.Single(b => (string?)b!["idStr"] == "/rom@etc/acpi/tables")!;
        var resized = await Admin.PutAsJsonAsync($"/api/vms/db-1/ramblocks/{(int)tables["id"]!}/size", new { usedLength = 256 << 10 });
        Assert.Equal(256L << 10, (long)(await resized.Content.ReadFromJsonAsync<JsonObject>())!["usedLength"]!);
        var notResizeable = await Admin.PutAsJsonAsync("/api/vms/db-1/ramblocks/1/size", new { usedLength = 4096 });
        Assert.Equal("not-resizeable", (string?)JsonNode.Parse(await notResizeable.Content.ReadAsStringAsync())!["code"]);

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync(new Uri("/api/vms/db-1/devices/dimm9", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync(new Uri($"/api/vms/db-1/ramblocks/{id}", UriKind.Relative))).StatusCode);
        var machineBlock = await Admin.DeleteAsync(new Uri("/api/vms/db-1/ramblocks/1", UriKind.Relative));
        Assert.Equal("machine-block", (string?)JsonNode.Parse(await machineBlock.Content.ReadAsStringAsync())!["code"]);
        var unknownDevice = await Admin.DeleteAsync(new Uri("/api/vms/db-1/devices/none", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, unknownDevice.StatusCode);
    }

    [Fact]
    public async Task Migration_PauseBeforeSwitchover_ContinueCompletesAndItIsListedWithSamples()
    {
        var started = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "tiny-1", destinationHost = "host-a", capabilities = new { pauseBeforeSwitchover = true } });
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        var engine = Factory.Services.GetRequiredService<MigrationEngine>();
        await Eventually.Until(() => engine.Registry.Get(id).Status == MigrationStatus.PreSwitchover, TimeSpan.FromSeconds(20), () => $"{id} is {engine.Registry.Get(id).Status}");

        // The charts have the figures it waits with: the last sample is the pre-switchover one, not one from the first pass.
        var waiting = engine.Registry.Get(id).GetStats();
        var store = Factory.Services.GetRequiredService<VmConsole.Server.Recording.ConsoleStore>();
        await Eventually.UntilAsync(
            async () =>
            {
                await store.FlushAsync();
                var last = (await Admin.GetFromJsonAsync<JsonArray>($"/api/migrations/{id}/samples"))!.LastOrDefault();
                return last is not null && (long)last["transferred"]! == waiting.Transferred && (long)last["remaining"]! == waiting.Remaining;
            },
            TimeSpan.FromSeconds(20),
            () => $"no sample of the pre-switchover figures (transferred {waiting.Transferred}, remaining {waiting.Remaining})");

        var tooEarlyOrLate = await Admin.PostAsync(new Uri("/api/migrations/mig-none/continue", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.NotFound, tooEarlyOrLate.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await Admin.PostAsync(new Uri($"/api/migrations/{id}/continue", UriKind.Relative), null)).StatusCode);
        await engine.Registry.Get(id).Finished.WaitAsync(TimeSpan.FromSeconds(30));

        var again = await Admin.PostAsync(new Uri($"/api/migrations/{id}/continue", UriKind.Relative), null);
        Assert.Equal("not-pre-switchover", (string?)JsonNode.Parse(await again.Content.ReadAsStringAsync())!["code"]);
        var listed = (await Admin.GetFromJsonAsync<JsonArray>("/api/migrations?vm=tiny-1&status=completed"))!;
        var migration = Assert.Single(listed)!;
        Assert.Equal(["setup", "active", "pre-switchover", "device", "completed"], migration["events"]!.AsArray().Select(e => (string)e!["status"]!));
        Assert.Equal("host-a", (string?)(await Admin.GetFromJsonAsync<JsonObject>("/api/vms/tiny-1"))!["host"]);
        Assert.Empty((await Admin.GetFromJsonAsync<JsonArray>("/api/migrations?vm=tiny-1&status=failed"))!);
        await Factory.Services.GetRequiredService<VmConsole.Server.Recording.ConsoleStore>().FlushAsync();
        Assert.NotEmpty((await Admin.GetFromJsonAsync<JsonArray>($"/api/migrations/{id}/samples"))!);
        Assert.Equal(HttpStatusCode.NotFound, (await Admin.GetAsync(new Uri("/api/migrations/mig-none/samples", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task Migration_ToAnExternalUriAndBadOnes_AreAcceptedOrRefusedClearly()
    {
        var file = Path.Combine(Path.GetTempPath(), $"vmconsole-api-{Guid.NewGuid():N}.mig");
        try
        {
            var toFile = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "tiny-1", uri = $"file:{file}", qemuCompatible = true });
            var id = (string)(await toFile.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
            await Factory.Services.GetRequiredService<MigrationEngine>().Registry.Get(id).Finished.WaitAsync(TimeSpan.FromSeconds(30));
            var done = (await Admin.GetFromJsonAsync<JsonObject>($"/api/migrations/{id}"))!;
            Assert.Equal("completed", (string?)done["status"]);
            Assert.Equal(new FileInfo(file).Length, (long)done["ram"]!["transferred"]!);

            var exec = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "web-1", uri = "exec:cat > /tmp/x" });
            var remote = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "web-1", uri = "tcp:192.168.1.10:4444" });
            var postcopy = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "web-1", destinationHost = "host-b", capabilities = new { postcopyRam = true } });
            var sameHost = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "web-1", destinationHost = "host-a" });
            Assert.Equal("invalid-uri", (string?)JsonNode.Parse(await exec.Content.ReadAsStringAsync())!["code"]);
            Assert.Equal("invalid-uri", (string?)JsonNode.Parse(await remote.Content.ReadAsStringAsync())!["code"]);
            Assert.Equal("unsupported-capability", (string?)JsonNode.Parse(await postcopy.Content.ReadAsStringAsync())!["code"]);
            Assert.Equal("same-host", (string?)JsonNode.Parse(await sameHost.Content.ReadAsStringAsync())!["code"]);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Audit_FiltersByVmAndOutcomeAndPages()
    {
        await Admin.PostAsJsonAsync("/api/vms/db-1/power", new { action = "resume" });
        await Admin.PostAsJsonAsync("/api/vms/db-1/power", new { action = "pause" });
        await Factory.Services.GetRequiredService<VmConsole.Server.Recording.ConsoleStore>().FlushAsync();

        var refused = (await Admin.GetFromJsonAsync<JsonArray>("/api/audit?vm=db-1&outcome=refused"))!;
        var allowed = (await Admin.GetFromJsonAsync<JsonArray>("/api/audit?vm=db-1&outcome=allowed&page=1"))!;
        var empty = (await Admin.GetFromJsonAsync<JsonArray>("/api/audit?vm=db-1&page=2"))!;

        var entry = Assert.Single(refused)!;
        Assert.Equal("illegal-power-transition", (string?)entry["code"]);
        Assert.Equal("Resumed db-1", (string?)entry["action"]);
        Assert.Equal("admin", (string?)entry["user"]);
        Assert.Single(allowed);
        Assert.Empty(empty);
        Assert.Equal(HttpStatusCode.BadRequest, (await Admin.GetAsync(new Uri("/api/audit?outcome=maybe", UriKind.Relative))).StatusCode);
    }
}
