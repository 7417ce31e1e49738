using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using VmConsole.Server.Accounts;
using VmConsole.Server.Api;
using VmConsole.Server.Hubs;

namespace VmConsole.Server.Tests;

/// <summary>The QEMU interop routes against the real qemu-system-x86_64: import, export, live both ways, and a layout that does not fit.</summary>
public sealed class QemuApiTests : SignedInApiTest
{
    /// <summary>Guest addresses in a 16 MiB microvm; microvm.ram starts at guest address 0, so they are also its offsets.</summary>
    private static readonly (long Address, int Length)[] Places = [(0x1000, 1), (0x23_4567, 8), (0x80_0ff8, 16), (0xFF_F000, 4096)];

    [Fact]
    public async Task Import_FileQemuWrote_BytesFoundWithGetMemory()
    {
        await using var qemu = await QemuProcess.StartMicrovmAsync();
        var path = Path.Combine(qemu.Directory, "micro.mig");
        await WritePlacesAsync(qemu);
        await qemu.QmpAsync("migrate", new { uri = $"exec:cat > {path}" });
        await qemu.WaitMigrationAsync();

        var response = await Admin.PostAsync("/api/vms/import", Form("from-file", "host-a", path));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, text);
        var body = JsonNode.Parse(text)!;
        Assert.Equal("from-file", body["vm"]!["name"]!.GetValue<string>());
        // The source QEMU never ran (-S): its globalstate says prelaunch, so the VM arrives paused, as in a QEMU destination.
        Assert.Equal("paused", body["vm"]!["runState"]!.GetValue<string>());
        Assert.Equal("microvm", body["import"]!["machineType"]!.GetValue<string>());
        Assert.Equal(new FileInfo(path).Length, body["import"]!["bytesRead"]!.GetValue<long>());
        Assert.Contains(body["import"]!["blocks"]!.AsArray(), b => b!["idStr"]!.GetValue<string>() == "microvm.ram" && b["usedLength"]!.GetValue<long>() == 16 << 20);
        Assert.Contains(body["import"]!["deviceState"]!["sections"]!.AsArray(), s => s!["name"]!.GetValue<string>() == "cpu");
        Assert.True(body["import"]!["normalPages"]!.GetValue<long>() >= Places.Length);

        var block = await MemoryApiTests.BlockIdAsync(Admin, "from-file", "microvm.ram");
        foreach (var (address, length) in Places)
        {
            var bytes = await Admin.GetByteArrayAsync($"/api/vms/from-file/ramblocks/{block}/memory?offset={address}&length={length}");
            Assert.Equal(Pattern(address, length), bytes);
        }

        // The same file named on the server, for admins; then the refusals of name and host.
        var json = await Admin.PostAsJsonAsync("/api/vms/import", new { name = "from-path", host = "host-a", path });
        Assert.Equal(HttpStatusCode.Created, json.StatusCode);
        Assert.Equal(Pattern(0x1000, 1), ApiTestMemory.ReadBlock(Factory, "from-path", "microvm.ram", 0x1000, 1));
        await ApiErrorTests.AssertProblemAsync(await Admin.PostAsync("/api/vms/import", Form("from-file", "host-a", path)), HttpStatusCode.Conflict, "vm-exists");
        await ApiErrorTests.AssertProblemAsync(await Admin.PostAsJsonAsync("/api/vms/import", new { name = "x1", host = "nope", path }), HttpStatusCode.NotFound, "host-not-found");
        using var operatorClient = await Factory.CreateSignedInClientAsync(Roles.Operator);
        Assert.Equal(HttpStatusCode.Forbidden, (await operatorClient.PostAsync("/api/vms/import", Form("x2", "host-a", path))).StatusCode);
        await ApiTestMemory.WaitForAuditAsync(Admin, "from-file", e => e["action"]!.GetValue<string>() == "Imported VM from-file" && e["allowed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Import_MismatchedLayoutFromQemu_Is400InvalidStreamWithQemuWordsAndNoVm()
    {
        // A microvm booted with SeaBIOS' 256 KiB image carries a pc.bios that VmConsole's microvm (qboot's 64 KiB) cannot hold.
        await using var qemu = await QemuProcess.StartMicrovmAsync("-bios", "/usr/share/seabios/bios-256k.bin");
        var path = Path.Combine(qemu.Directory, "bios.mig");
        await qemu.QmpAsync("migrate", new { uri = $"exec:cat > {path}" });
        await qemu.WaitMigrationAsync();

        var problem = await ApiErrorTests.AssertProblemAsync(await Admin.PostAsync("/api/vms/import", Form("wrong-bios", "host-a", path)), HttpStatusCode.BadRequest, "invalid-stream");
        var detail = problem["detail"]!.GetValue<string>();
        Assert.Contains("pc.bios: 0x40000", detail, StringComparison.Ordinal);
        Assert.EndsWith("Invalid argument", detail, StringComparison.Ordinal);
        Assert.Equal(detail, problem["errors"]!["file"]![0]!.GetValue<string>());
        Assert.False(Factory.Emulator.TryGetVm("wrong-bios", out _));

        var garbage = await ApiErrorTests.AssertProblemAsync(await Admin.PostAsync("/api/vms/import", Form("garbage", "host-a", content: [1, 2, 3, 4, 5, 6, 7, 8])), HttpStatusCode.BadRequest, "invalid-stream");
        Assert.Equal("Not a migration stream", garbage["detail"]!.GetValue<string>());
        await ApiTestMemory.WaitForAuditAsync(Admin, "garbage", e => e["code"]?.GetValue<string>() == "invalid-stream" && !e["allowed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Export_Download_QemuLoadsItWithTheBytes()
    {
        var created = await Admin.PostAsJsonAsync("/api/vms", new { name = "to-qemu", host = "host-a", machine = "microvm", memoryMiB = 16, start = true });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var block = await MemoryApiTests.BlockIdAsync(Admin, "to-qemu", "microvm.ram");
        foreach (var (address, length) in Places)
        {
            Assert.Equal(HttpStatusCode.NoContent, (await Admin.PutAsync($"/api/vms/to-qemu/ramblocks/{block}/memory?offset={address}", MemoryApiTests.Raw(Pattern(address, length)))).StatusCode);
        }

        using var operatorClient = await Factory.CreateSignedInClientAsync(Roles.Operator);
        var download = await operatorClient.PostAsync("/api/vms/to-qemu/export", null);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("application/octet-stream", download.Content.Headers.ContentType?.MediaType);
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
        Assert.Equal("to-qemu.qemu-stream", download.Content.Headers.ContentDisposition?.FileNameStar);

        await using var qemu = await QemuProcess.StartMicrovmAsync("-incoming", "defer");
        var path = Path.Combine(qemu.Directory, "export.mig");
        await File.WriteAllBytesAsync(path, await download.Content.ReadAsByteArrayAsync());
        await qemu.QmpAsync("migrate-incoming", new { uri = $"exec:cat {path}" });
        await qemu.WaitIncomingDoneAsync();
        foreach (var (address, length) in Places)
        {
            Assert.Equal(Pattern(address, length), await qemu.ReadAsync(address, length));
        }

        // To a server path: admins only, with a summary of what was written.
        var toPath = Path.Combine(qemu.Directory, "by-path.mig");
        Assert.Equal(HttpStatusCode.Forbidden, (await operatorClient.PostAsJsonAsync("/api/vms/to-qemu/export", new { path = toPath })).StatusCode);
        Assert.False(File.Exists(toPath));
        var summary = (await (await Admin.PostAsJsonAsync("/api/vms/to-qemu/export", new { path = toPath })).Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.Equal(new FileInfo(toPath).Length, summary["bytesWritten"]!.GetValue<long>());
        // Made in the console: no CPU or device state goes with it, and the summary says what QEMU does then.
        Assert.False(summary["deviceState"]!["carried"]!.GetValue<bool>());
        Assert.Contains("QEMU boots it from reset", summary["deviceState"]!["note"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(await File.ReadAllBytesAsync(path), await File.ReadAllBytesAsync(toPath));
        var bad = await ApiErrorTests.AssertProblemAsync(await Admin.PostAsJsonAsync("/api/vms/to-qemu/export", new { path = "/no/such/dir/x.mig" }), HttpStatusCode.BadRequest, "validation-failed");
        Assert.NotNull(bad["errors"]!["path"]);
        await ApiTestMemory.WaitForAuditAsync(Admin, "to-qemu", e => e["action"]!.GetValue<string>() == "Exported to-qemu for QEMU" && e["allowed"]!.GetValue<bool>());
    }

    [Fact]
    public async Task Export_ShutOffVm_Is409()
    {
        Assert.Equal(HttpStatusCode.OK, (await Admin.PostAsJsonAsync("/api/vms/tiny-1/power", new { action = "shutdown" })).StatusCode);
        await ApiErrorTests.AssertProblemAsync(await Admin.PostAsync("/api/vms/tiny-1/export", null), HttpStatusCode.Conflict, "vm-not-running");
        await ApiErrorTests.AssertProblemAsync(await Admin.PostAsync("/api/vms/nope/export", null), HttpStatusCode.NotFound, "vm-not-found");
    }

    [Fact]
    public async Task Incoming_FromQemuOverUnix_CompletesListedAndRunning()
    {
        await using var qemu = await QemuProcess.StartMicrovmAsync();
        await WritePlacesAsync(qemu);
        var uri = $"unix:{qemu.Directory}/incoming.sock";

        // A viewer's hub connection following everything: the incoming migration's messages are the engine's.
        var progress = new System.Collections.Concurrent.ConcurrentQueue<MigrationDto>();
        var statuses = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var vmStates = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var arrivingIds = new System.Collections.Concurrent.ConcurrentQueue<string?>();
        var completed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var hub = await ConnectHubAsync(Roles.Viewer);
        hub.On<MigrationDto>(nameof(IConsoleClient.MigrationProgress), progress.Enqueue);
        hub.On<VmDto>(nameof(IConsoleClient.VmChanged), v =>
        {
            if (v.Name == "from-qemu")
            {
                vmStates.Enqueue(v.RunState);
                if (v.RunState == "inmigrate")
                {
                    arrivingIds.Enqueue(v.ActiveMigrationId);
                }
            }
        });
        hub.On<MigrationDto>(nameof(IConsoleClient.MigrationStatusChanged), m =>
        {
            statuses.Enqueue(m.Status);
            if (m.Status == "completed")
            {
                completed.TrySetResult();
            }
        });
        await hub.InvokeAsync(nameof(ConsoleHub.SubscribeAll));

        using var operatorClient = await Factory.CreateSignedInClientAsync(Roles.Operator);
        var forbidden = await operatorClient.PostAsJsonAsync("/api/vms/incoming", new { name = "from-qemu", host = "host-a", uri });
        await ApiErrorTests.AssertProblemAsync(forbidden, HttpStatusCode.Forbidden, "forbidden");

        var response = await Admin.PostAsJsonAsync("/api/vms/incoming", new { name = "from-qemu", host = "host-a", uri });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        var id = accepted["id"]!.GetValue<string>();
        Assert.Equal("setup", accepted["status"]!.GetValue<string>());
        Assert.Equal($"/api/migrations/{id}", response.Headers.Location?.OriginalString);

        // Before QEMU is told anything: listed in inmigrate with its migration, and nothing can be done to it.
        var listing = (await Admin.GetFromJsonAsync<JsonArray>("/api/vms"))!;
        var arriving = Assert.Single(listing, v => v!["name"]!.GetValue<string>() == "from-qemu")!;
        Assert.Equal("inmigrate", arriving["runState"]!.GetValue<string>());
        Assert.Equal(id, arriving["activeMigrationId"]!.GetValue<string>());
        Assert.Equal("inmigrate", (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/from-qemu"))!["runState"]!.GetValue<string>());
        Assert.Empty((await Admin.GetFromJsonAsync<JsonArray>("/api/vms/from-qemu/ramblocks"))!);
        await ApiErrorTests.AssertProblemAsync(await Admin.PostAsJsonAsync("/api/vms/from-qemu/power", new { action = "start" }), HttpStatusCode.Conflict, "vm-inmigrate");
        await ApiErrorTests.AssertProblemAsync(await Admin.DeleteAsync("/api/vms/from-qemu"), HttpStatusCode.Conflict, "vm-inmigrate");
        await ApiErrorTests.AssertProblemAsync(await Admin.PutAsync("/api/vms/from-qemu/ramblocks/1/memory?offset=0", MemoryApiTests.Raw([1])), HttpStatusCode.Conflict, "vm-inmigrate");
        await ApiErrorTests.AssertProblemAsync(await Admin.PostAsJsonAsync("/api/migrations", new { vm = "from-qemu", destinationHost = "host-b" }), HttpStatusCode.Conflict, "vm-inmigrate");
        await ApiErrorTests.AssertProblemAsync(await Admin.PostAsJsonAsync("/api/vms", new { name = "from-qemu", host = "host-a", machine = "microvm", memoryMiB = 16 }), HttpStatusCode.Conflict, "vm-exists");

        // Slowed down (about 40 KB at 32 KB/s), so that the stream is seen arriving.
        await qemu.QmpAsync("migrate-set-parameters", new Dictionary<string, object> { ["max-bandwidth"] = 32 << 10 });
        // A running source (qtest keeps its vCPU from executing): its globalstate says running, so the VM runs on arrival.
        await qemu.QmpAsync("cont");
        await qemu.QmpAsync("migrate", new { uri });
        await qemu.WaitMigrationAsync();
        await completed.Task.WaitAsync(TimeSpan.FromSeconds(60));
        var done = await ApiTestMemory.WaitForMigrationAsync(Admin, id);
        Assert.Equal(["setup", "active", "completed"], statuses.Distinct());
        Assert.Contains("inmigrate", vmStates);
        Assert.Equal("running", vmStates.Last());
        Assert.All(arrivingIds, a => Assert.Equal(id, a));
        Assert.True(progress.Count >= 2, $"{progress.Count} progress messages");
        Assert.All(progress, p => Assert.Equal((id, "active", "qemu"), (p.Id, p.Status, p.SourceHost)));
        var transferred = progress.Select(p => p.Ram.Transferred).ToList();
        Assert.Equal(transferred.Order(), transferred);
        Assert.True(transferred[^1] > transferred[0], string.Join(", ", transferred));
        Assert.True(progress.Last().Ram.Total >= 16L << 20, "the RAM setup's total is known while the pages arrive");
        Assert.True(done["status"]!.GetValue<string>() == "completed", done.ToJsonString());
        Assert.Equal("qemu", done["sourceHost"]!.GetValue<string>());
        Assert.Equal("host-a", done["destinationHost"]!.GetValue<string>());
        Assert.True(done["ram"]!["transferred"]!.GetValue<long>() > 0);
        Assert.True(done["ram"]!["total"]!.GetValue<long>() >= 16L << 20, done.ToJsonString());
        Assert.True(done["ram"]!["normal"]!.GetValue<long>() >= Places.Length, done.ToJsonString());
        Assert.Equal(["setup", "active", "completed"], done["events"]!.AsArray().Select(e => e!["status"]!.GetValue<string>()));

        var listed = (await Admin.GetFromJsonAsync<JsonArray>("/api/migrations?vm=from-qemu"))!;
        Assert.Contains(listed, m => m!["id"]!.GetValue<string>() == id && m["status"]!.GetValue<string>() == "completed");
        var vms = (await Admin.GetFromJsonAsync<JsonArray>("/api/vms"))!;
        Assert.Contains(vms, v => v!["name"]!.GetValue<string>() == "from-qemu" && v["runState"]!.GetValue<string>() == "running");
        var block = await MemoryApiTests.BlockIdAsync(Admin, "from-qemu", "microvm.ram");
        foreach (var (address, length) in Places)
        {
            Assert.Equal(Pattern(address, length), await Admin.GetByteArrayAsync($"/api/vms/from-qemu/ramblocks/{block}/memory?offset={address}&length={length}"));
        }
    }

    [Fact]
    public async Task Incoming_Cancelled_IsCancelledAndLeavesNoVm()
    {
        using var operatorClient = await Factory.CreateSignedInClientAsync(Roles.Operator);
        var response = await operatorClient.PostAsJsonAsync("/api/vms/incoming", new { name = "never", host = "host-a", uri = $"tcp:127.0.0.1:{LoopbackPorts.Free()}" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
        Assert.Equal("inmigrate", (await Admin.GetFromJsonAsync<JsonObject>("/api/vms/never"))!["runState"]!.GetValue<string>());

        Assert.Equal(HttpStatusCode.Accepted, (await operatorClient.PostAsync($"/api/migrations/{id}/cancel", null)).StatusCode);
        var done = await ApiTestMemory.WaitForMigrationAsync(Admin, id);
        Assert.Equal("cancelled", done["status"]!.GetValue<string>());
        await ApiErrorTests.AssertProblemAsync(await Admin.GetAsync("/api/vms/never"), HttpStatusCode.NotFound, "vm-not-found");
        Assert.DoesNotContain((await Admin.GetFromJsonAsync<JsonArray>("/api/vms"))!, v => v!["name"]!.GetValue<string>() == "never");
        Assert.False(Factory.Emulator.IsNameTaken("never"));
        Assert.Equal(HttpStatusCode.OK, (await operatorClient.PostAsync($"/api/migrations/{id}/cancel", null)).StatusCode);
        await ApiErrorTests.AssertProblemAsync(await operatorClient.PostAsync($"/api/migrations/{id}/continue", null), HttpStatusCode.Conflict, "not-pre-switchover");
        Assert.False(Factory.Emulator.TryGetVm("never", out _));
    }

    [Fact]
    public async Task Incoming_WithTheSourcesPostcopyRam_TheMigrationShowsIt()
    {
        var response = await Admin.PostAsJsonAsync(
            "/api/vms/incoming", new { name = "told", host = "host-a", uri = $"tcp:127.0.0.1:{LoopbackPorts.Free()}", capabilities = new { postcopyRam = true, xIgnoreShared = true } });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var migration = (await response.Content.ReadFromJsonAsync<JsonObject>())!;
        Assert.True(migration["capabilities"]!["postcopyRam"]!.GetValue<bool>());
        var id = migration["id"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.Accepted, (await Admin.PostAsync($"/api/migrations/{id}/cancel", null)).StatusCode);
        Assert.Equal("cancelled", (await ApiTestMemory.WaitForMigrationAsync(Admin, id))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Incoming_PortInUse_Is409AddressInUse()
    {
        using var busy = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;

        var response = await Admin.PostAsJsonAsync("/api/vms/incoming", new { name = "busy", host = "host-a", uri = $"tcp:127.0.0.1:{port}" });

        await ApiErrorTests.AssertProblemAsync(response, HttpStatusCode.Conflict, "address-in-use");
        await ApiErrorTests.AssertProblemAsync(await Admin.GetAsync("/api/vms/busy"), HttpStatusCode.NotFound, "vm-not-found");
    }

    [Theory]
    [InlineData("{\"name\":\"a1\",\"host\":\"host-a\",\"uri\":\"file:/tmp/x\"}", HttpStatusCode.BadRequest, "invalid-uri")]
    [InlineData("{\"name\":\"a1\",\"host\":\"host-a\",\"uri\":\"tcp:10.1.2.3:4444\"}", HttpStatusCode.BadRequest, "invalid-uri")]
    [InlineData("{\"name\":\"a1\",\"host\":\"host-a\"}", HttpStatusCode.BadRequest, "validation-failed")]
    [InlineData("{\"name\":\"db-1\",\"host\":\"host-a\",\"uri\":\"tcp:127.0.0.1:1\"}", HttpStatusCode.Conflict, "vm-exists")]
    [InlineData("{\"name\":\"a1\",\"host\":\"nope\",\"uri\":\"tcp:127.0.0.1:1\"}", HttpStatusCode.NotFound, "host-not-found")]
    public async Task Incoming_BadRequest_IsProblem(string body, HttpStatusCode status, string code)
    {
        var response = await Admin.PostAsync("/api/vms/incoming", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        await ApiErrorTests.AssertProblemAsync(response, status, code);
    }

    [Fact]
    public async Task LiveSend_ToQemuOverUnix_QemuReadsTheBytes()
    {
        var created = await Admin.PostAsJsonAsync("/api/vms", new { name = "live-out", host = "host-a", machine = "microvm", memoryMiB = 16, start = true });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var block = await MemoryApiTests.BlockIdAsync(Admin, "live-out", "microvm.ram");
        foreach (var (address, length) in Places)
        {
            await Admin.PutAsync($"/api/vms/live-out/ramblocks/{block}/memory?offset={address}", MemoryApiTests.Raw(Pattern(address, length)));
        }

        var directory = QemuProcess.TempDirectory();
        try
        {
            var uri = $"unix:{directory}/in.sock";
            await using var qemu = await QemuProcess.StartMicrovmAsync("-incoming", uri);

            // No qemuCompatible: a uri without a destination host is a QEMU peer, so the stream is QEMU's.
            var response = await Admin.PostAsJsonAsync("/api/migrations", new { vm = "live-out", uri, parameters = new { maxBandwidth = 0 } });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            var id = (await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
            var done = await ApiTestMemory.WaitForMigrationAsync(Admin, id);
            Assert.True(done["status"]!.GetValue<string>() == "completed", done.ToJsonString());
            await qemu.WaitIncomingDoneAsync();
            foreach (var (address, length) in Places)
            {
                Assert.Equal(Pattern(address, length), await qemu.ReadAsync(address, length));
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private async Task<HubConnection> ConnectHubAsync(string role)
    {
        var cookie = await Factory.SignInCookieAsync(role);
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(Factory.Server.BaseAddress, ConsoleHub.Path), options =>
            {
                options.Transports = HttpTransportType.LongPolling;
                options.HttpMessageHandlerFactory = _ => Factory.Server.CreateHandler();
                options.Headers["Cookie"] = cookie;
            })
            .Build();
        await connection.StartAsync();
        return connection;
    }

    /// <summary>Distinct, non-zero bytes for an address, so that a page landing at the wrong place shows.</summary>
    internal static byte[] Pattern(long address, int length) =>
        [.. Enumerable.Range(0, length).Select(i => (byte)(((address >> 12) * 31 + i * 7 + 1) % 251 + 1))];

    private static async Task WritePlacesAsync(QemuProcess qemu)
    {
        foreach (var (address, length) in Places)
        {
            await qemu.WritebAsync(address, 0xA5);
            await qemu.WriteAsync(address, Pattern(address, length));
        }
    }

    private static MultipartFormDataContent Form(string name, string host, string? path = null, byte[]? content = null)
    {
        var form = new MultipartFormDataContent
        {
            { new StringContent(name), "name" },
            { new StringContent(host), "host" },
        };
        var file = new StreamContent(path is null ? new MemoryStream(content!) : File.OpenRead(path));
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        form.Add(file, "file", "vm.mig");
        return form;
    }
}
