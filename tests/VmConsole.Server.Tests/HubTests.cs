using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.SignalR.Client;
using VmConsole.Server.Api;
using VmConsole.Server.Hubs;

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

    private HubConnection Connect(string? cookie) => new HubConnectionBuilder()
        .WithUrl(new Uri(_factory.Server.BaseAddress, ConsoleHub.Path), options =>
        {
            options.Transports = HttpTransportType.LongPolling;
            options.HttpMessageHandlerFactory = _ => _factory.Server.CreateHandler();
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
        Assert.Equal("POST /api/vms/{vm}/power", entry.Action);
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
}
