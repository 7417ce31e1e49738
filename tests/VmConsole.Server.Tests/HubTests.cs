using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Server.Api;
using VmConsole.Server.Hubs;
using VmConsole.TestSupport;

namespace VmConsole.Server.Tests;

/// <summary>A real SignalR client on /hubs/console follows a real migration started over HTTP.</summary>
public sealed class HubTests : IAsyncLifetime
{
    private readonly ConsoleFactory _factory = new();
    private HubConnection _connection = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _connection = Connect(await _factory.SignInCookieAsync(VmConsole.Server.Accounts.Roles.Viewer));
        await _connection.StartAsync();
        _client = await _factory.CreateSignedInClientAsync(VmConsole.Server.Accounts.Roles.Operator);
    }

    private HubConnection Connect(string? cookie) => Connect(_factory, cookie);

    private static HubConnection Connect(ConsoleFactory factory, string? cookie) => new HubConnectionBuilder()
        .WithUrl(new Uri(factory.Server.BaseAddress, ConsoleHub.Path), options =>
        {
            options.Transports = HttpTransportType.LongPolling;
            options.HttpMessageHandlerFactory = _ => factory.Server.CreateHandler();
            if (cookie is not null)
            {
                options.Headers["Cookie"] = cookie;
            }
        })
        .Build();

    [Fact]
    public async Task Hub_NotSignedIn_IsRefused401()
    {
        await using var anonymous = Connect(cookie: null);

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.StartAsync());

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, error.StatusCode);
    }

    public async Task DisposeAsync()
    {
        await _connection.DisposeAsync();
        _client.Dispose();
        await _factory.DisposeAsync();
    }

    [Fact]
    public async Task Hub_SubscribedToAMigration_ReceivesLiveProgressAndTheFinalStatus()
    {
        var progress = new ConcurrentQueue<MigrationDto>();
        var statuses = new ConcurrentQueue<string>();
        var completed = new TaskCompletionSource<MigrationDto>(TaskCreationOptions.RunContinuationsAsynchronously);
        _connection.On<MigrationDto>(nameof(IConsoleClient.MigrationProgress), progress.Enqueue);
        _connection.On<MigrationDto>(nameof(IConsoleClient.MigrationStatusChanged), m =>
        {
            statuses.Enqueue(m.Status);
            if (m.Status is "completed" or "failed" or "cancelled")
            {
                completed.TrySetResult(m);
            }
        });
        var client = _client;

        // db-1 is idle: 1.25 GiB of which nearly all are zero pages, about 3 MB on the wire; at 2 MiB/s that is
        // about a second and a half of progress at ten reports a second, whatever the machine's load.
        await _connection.InvokeAsync(nameof(ConsoleHub.SubscribeVm), "db-1");
        var response = await client.PostAsync(new Uri("/api/migrations", UriKind.Relative), new StringContent(
            "{\"vm\":\"db-1\",\"destinationHost\":\"host-b\",\"parameters\":{\"maxBandwidth\":2097152}}", Encoding.UTF8, "application/json"));
        var id = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        await _connection.InvokeAsync(nameof(ConsoleHub.SubscribeMigration), id);

        var final = await completed.Task.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal("completed", final.Status);
        Assert.True(final.Verified);
        Assert.Contains("active", statuses);
        var seen = progress.Where(p => p.Id == id).Select(p => p.Ram.Transferred).ToList();
        Assert.True(seen.Count >= 3, $"expected several progress updates, got {seen.Count}");
        Assert.True(seen.Distinct().Count() >= 3, "progress should carry changing numbers");
        Assert.True(seen.SequenceEqual(seen.Order()), "transferred only grows");
    }

    [Fact]
    public async Task Hub_SubscribedToEverything_ReceivesAuditLinesWithTheUser()
    {
        var audited = new TaskCompletionSource<AuditEntryDto>(TaskCreationOptions.RunContinuationsAsynchronously);
        _connection.On<AuditEntryDto>(nameof(IConsoleClient.AuditAppended), a => audited.TrySetResult(a));
        await _connection.InvokeAsync(nameof(ConsoleHub.SubscribeAll));

        await _client.PostAsync(new Uri("/api/vms/tiny-1/power", UriKind.Relative), new StringContent("{\"action\":\"pause\"}", Encoding.UTF8, "application/json"));

        var entry = await audited.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("operator", entry.User);
        Assert.Equal("Paused tiny-1", entry.Action);
        Assert.Equal("tiny-1", entry.Vm);
        Assert.True(entry.Allowed);
    }

    [Fact]
    public async Task Hub_FreezeRefusalOverHttp_IsPushedAsActionRefused()
    {
        var refusal = new TaskCompletionSource<RefusalDto>(TaskCreationOptions.RunContinuationsAsynchronously);
        _connection.On<RefusalDto>(nameof(IConsoleClient.ActionRefused), r => refusal.TrySetResult(r));
        await _connection.InvokeAsync(nameof(ConsoleHub.SubscribeVm), "db-1");
        var client = _client;
        var start = await client.PostAsync(new Uri("/api/migrations", UriKind.Relative), new StringContent(
            "{\"vm\":\"db-1\",\"destinationHost\":\"host-b\",\"parameters\":{\"maxBandwidth\":1048576}}", Encoding.UTF8, "application/json"));
        var id = (string)(await start.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        using var admin = await _factory.CreateSignedInClientAsync();

        await admin.PutAsync(new Uri("/api/vms/db-1/ramblocks/1/migratable", UriKind.Relative), new StringContent("{\"migratable\":false}", Encoding.UTF8, "application/json"));

        var pushed = await refusal.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("migratable-set-frozen", pushed.Code);
        Assert.Equal("pc.ram", pushed.Block);
        Assert.Equal(id, pushed.MigrationId);
        Assert.Equal("db-1", pushed.Vm);
        await client.PostAsync(new Uri($"/api/migrations/{id}/cancel", UriKind.Relative), null);
    }

    /// <remarks>
    /// The console runs on a fake clock here: the progress rate is counted over four seconds of it, moved on 100 ms at
    /// a time once the guest has written what its rate owes and the migration waits for its next bandwidth window, so
    /// the count does not depend on the machine.
    /// </remarks>
    [Fact]
    public async Task Hub_SubscribedToVmMigrationAndEverything_ReceivesEachEventOnceAndAtMostTenProgressASecond()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var factory = new ConsoleFactory(services: services => services.AddSingleton<TimeProvider>(clock));
        await using var connection = Connect(factory, await factory.SignInCookieAsync(VmConsole.Server.Accounts.Roles.Viewer));
        await connection.StartAsync();
        using var client = await factory.CreateSignedInClientAsync(VmConsole.Server.Accounts.Roles.Operator);
        var progress = new ConcurrentQueue<MigrationDto>();
        var statuses = new ConcurrentQueue<string>();
        var audits = new ConcurrentQueue<AuditEntryDto>();
        connection.On<MigrationDto>(nameof(IConsoleClient.MigrationProgress), progress.Enqueue);
        connection.On<MigrationDto>(nameof(IConsoleClient.MigrationStatusChanged), m => statuses.Enqueue(m.Status));
        connection.On<AuditEntryDto>(nameof(IConsoleClient.AuditAppended), audits.Enqueue);
        await connection.InvokeAsync(nameof(ConsoleHub.SubscribeAll));
        await connection.InvokeAsync(nameof(ConsoleHub.SubscribeVm), "db-1");

        // 8 MB/s of dirtying against 1 MiB/s: it cannot converge, so progress keeps coming until cancelled.
        using var admin = await factory.CreateSignedInClientAsync();
        (await admin.PutAsync(new Uri("/api/vms/db-1/workload", UriKind.Relative), Json("{\"kind\":\"uniform\",\"pagesPerSecond\":2000}"))).EnsureSuccessStatusCode();
        var response = await client.PostAsync(new Uri("/api/migrations", UriKind.Relative), Json("{\"vm\":\"db-1\",\"destinationHost\":\"host-b\",\"parameters\":{\"maxBandwidth\":1048576}}"));
        var id = (string)(await response.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        await connection.InvokeAsync(nameof(ConsoleHub.SubscribeMigration), id);
        var migration = factory.Services.GetRequiredService<MigrationEngine>().Registry.Get(id);

        await WaitUntilAsync(() => statuses.Contains("active"));
        var from = migration.GetStats().TotalTime;
        var guest = factory.Services.GetRequiredService<Emulator>().GetVm("db-1");
        await MigrationClock.RunUntilAsync(clock, guest, () => (PrecopyMigration)migration, done: () => migration.GetStats().TotalTime >= from + 4_000);
        var to = migration.GetStats().TotalTime;
        await client.PostAsync(new Uri($"/api/migrations/{id}/cancel", UriKind.Relative), null);
        await WaitUntilAsync(() => statuses.Contains("cancelled"));

        // The final report may wait for the clock (reports are 100 ms apart); then a later event marks the end of what
        // the migration sent: messages reach a connection in the order they were sent.
        clock.Advance(TimeSpan.FromMilliseconds(100));
        await WaitUntilAsync(() => progress.Any(p => p.Id == id && p.Status == "cancelled"));
        (await admin.PostAsync(new Uri("/api/vms/tiny-1/power", UriKind.Relative), Json("{\"action\":\"pause\"}"))).EnsureSuccessStatusCode();
        await WaitUntilAsync(() => audits.Any(a => a.Vm == "tiny-1"));

        var window = progress.Where(p => p.Id == id && p.TotalTime >= from && p.TotalTime < to).ToList();
        var perSecond = window.Count / ((to - from) / 1000.0);
        Assert.InRange(perSecond, 3, 12);
        var copies = progress.GroupBy(p => (p.Status, p.TotalTime, p.Ram.Transferred, p.Ram.DirtySyncCount)).Max(g => g.Count());
        Assert.Equal(1, copies);
        Assert.Equal(1, statuses.Count(s => s == "active"));
        Assert.Equal(1, statuses.Count(s => s == "cancelled"));
        var startAudits = audits.Where(a => a.Target == "/api/migrations").ToList();
        Assert.Single(startAudits);
    }

    [Fact]
    public async Task Hub_SubscribedToAMigratingVm_ReceivesFinishMigrateAtPreSwitchoverThenRunningAfterCancel()
    {
        var stopped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var back = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _connection.On<VmDto>(nameof(IConsoleClient.VmChanged), vm =>
        {
            if (vm.Name != "tiny-1")
            {
                return;
            }

            if (vm.RunState == "finish-migrate")
            {
                stopped.TrySetResult();
            }
            else if (vm.RunState == "running" && stopped.Task.IsCompleted)
            {
                back.TrySetResult();
            }
        });
        await _connection.InvokeAsync(nameof(ConsoleHub.SubscribeVm), "tiny-1");

        var started = await _client.PostAsync(new Uri("/api/migrations", UriKind.Relative), Json("{\"vm\":\"tiny-1\",\"destinationHost\":\"host-a\",\"capabilities\":{\"pauseBeforeSwitchover\":true}}"));
        Assert.Equal(System.Net.HttpStatusCode.Accepted, started.StatusCode);
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        await stopped.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var engine = _factory.Services.GetRequiredService<MigrationEngine>();
        await Eventually.Until(() => engine.Registry.Get(id).Status == MigrationStatus.PreSwitchover, TimeSpan.FromSeconds(20), () => $"{id} is {engine.Registry.Get(id).Status}");
        Assert.Equal("finish-migrate", (string?)(await _client.GetFromJsonAsync<JsonObject>("/api/vms/tiny-1"))!["runState"]);

        var refused = await _client.PostAsync(new Uri("/api/vms/tiny-1/power", UriKind.Relative), Json("{\"action\":\"pause\"}"));
        Assert.Equal(System.Net.HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("while it is finish-migrate", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(System.Net.HttpStatusCode.Accepted, (await _client.PostAsync(new Uri($"/api/migrations/{id}/cancel", UriKind.Relative), null)).StatusCode);

        await back.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal("running", (string?)(await _client.GetFromJsonAsync<JsonObject>("/api/vms/tiny-1"))!["runState"]);
    }

    [Fact]
    public async Task Hub_SubscribedToAVm_ReceivesVmChangedOnPowerAndRamBlocksChangedOnANewBackend()
    {
        var changed = new TaskCompletionSource<VmDto>(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocks = new TaskCompletionSource<IReadOnlyList<RamBlockDto>>(TaskCreationOptions.RunContinuationsAsynchronously);
        _connection.On<VmDto>(nameof(IConsoleClient.VmChanged), vm =>
        {
            if (vm.Name == "web-1" && vm.RunState == "paused")
            {
                changed.TrySetResult(vm);
            }
        });
        _connection.On<string, IReadOnlyList<RamBlockDto>>(nameof(IConsoleClient.RamBlocksChanged), (vm, list) =>
        {
            if (vm == "web-1" && list.Any(b => b.BackendId == "hub0"))
            {
                blocks.TrySetResult(list);
            }
        });
        await _connection.InvokeAsync(nameof(ConsoleHub.SubscribeVm), "web-1");
        using var admin = await _factory.CreateSignedInClientAsync();

        (await admin.PostAsync(new Uri("/api/vms/web-1/power", UriKind.Relative), Json("{\"action\":\"pause\"}"))).EnsureSuccessStatusCode();
        (await admin.PostAsync(new Uri("/api/vms/web-1/ramblocks", UriKind.Relative), Json("{\"backendId\":\"hub0\",\"sizeBytes\":8388608}"))).EnsureSuccessStatusCode();

        var vm = await changed.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var list = await blocks.Task.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("host-a", vm.Host);
        var added = Assert.Single(list, b => b.BackendId == "hub0");
        Assert.Equal(8L << 20, added.UsedLength);
        Assert.False(added.Migratable);
    }

    [Fact]
    public async Task Hub_SubscribedToAnotherVm_ReceivesNothingAboutThisOne()
    {
        var seen = new ConcurrentQueue<string>();
        _connection.On<VmDto>(nameof(IConsoleClient.VmChanged), vm => seen.Enqueue(vm.Name));
        _connection.On<AuditEntryDto>(nameof(IConsoleClient.AuditAppended), a => seen.Enqueue("audit:" + a.Vm));
        await _connection.InvokeAsync(nameof(ConsoleHub.SubscribeVm), "tiny-1");
        using var admin = await _factory.CreateSignedInClientAsync();

        (await admin.PostAsync(new Uri("/api/vms/web-1/power", UriKind.Relative), Json("{\"action\":\"pause\"}"))).EnsureSuccessStatusCode();
        (await admin.PostAsync(new Uri("/api/vms/tiny-1/power", UriKind.Relative), Json("{\"action\":\"pause\"}"))).EnsureSuccessStatusCode();
        await WaitUntilAsync(() => seen.Contains("audit:tiny-1"));

        // A later event about tiny-1 marks the end: whatever the hub sent about web-1 has arrived by then.
        (await admin.PostAsync(new Uri("/api/vms/tiny-1/power", UriKind.Relative), Json("{\"action\":\"resume\"}"))).EnsureSuccessStatusCode();
        await WaitUntilAsync(() => seen.Count(s => s == "audit:tiny-1") >= 2);

        Assert.DoesNotContain("web-1", seen);
        Assert.DoesNotContain("audit:web-1", seen);
        Assert.Contains("tiny-1", seen);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private static Task WaitUntilAsync(Func<bool> condition) =>
        Eventually.Until(condition, TimeSpan.FromSeconds(30), () => "a hub message");
}
