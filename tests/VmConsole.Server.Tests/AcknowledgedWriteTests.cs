using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace VmConsole.Server.Tests;

/// <summary>
/// What a call to cancel or continue a migration caused, and the audit line of a refusal, are committed before the
/// answer: killed at once after it, the restarted console has them.
/// </summary>
public sealed class AcknowledgedWriteTests
{
    [Fact]
    public async Task MigrationContinue_KilledRightAfter202_DeviceStateKeptAfterRestart()
    {
        using var console = await CrashingConsole.StartAsync();
        var started = await console.PostAsync("api/migrations", "{\"vm\":\"tiny-1\",\"destinationHost\":\"host-a\",\"capabilities\":{\"pauseBeforeSwitchover\":true}}");
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        await WaitForStatusAsync(console, id, "pre-switchover");

        var resumed = await console.PostAsync($"api/migrations/{id}/continue");
        Assert.Equal(HttpStatusCode.Accepted, resumed.StatusCode);
        await console.KillAndRestartAsync();

        var events = await EventsAsync(console, id);
        Assert.Equal(["setup", "active", "pre-switchover", "device"], events.Take(4));
    }

    [Fact]
    public async Task MigrationCancel_KilledRightAfter202_CancellingKeptAfterRestart()
    {
        using var console = await CrashingConsole.StartAsync();
        // At 1 MiB/s against 4 MiB/s of dirtying, it cannot finish before the cancel.
        var started = await console.PostAsync("api/migrations", "{\"vm\":\"tiny-1\",\"destinationHost\":\"host-a\",\"parameters\":{\"maxBandwidth\":1048576}}");
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var id = (string)(await started.Content.ReadFromJsonAsync<JsonObject>())!["id"]!;
        await WaitForStatusAsync(console, id, "active");

        var cancelled = await console.PostAsync($"api/migrations/{id}/cancel");
        Assert.Equal(HttpStatusCode.Accepted, cancelled.StatusCode);
        await console.KillAndRestartAsync();

        Assert.Equal(["setup", "active", "cancelling"], (await EventsAsync(console, id)).Take(3));
    }

    [Fact]
    public async Task RefusedCall_KilledRightAfter409_AuditLineKeptAfterRestart()
    {
        using var console = await CrashingConsole.StartAsync();
        var refused = await console.PostAsync("api/vms", "{\"name\":\"web-1\",\"host\":\"host-b\",\"machine\":\"microvm\",\"memoryMiB\":16}");
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        await console.KillAndRestartAsync();

        var audit = await console.AuditAsync();
        Assert.Contains(audit, a => !(bool)a["allowed"]! && (string?)a["code"] == "vm-exists" && (string?)a["target"] == "/api/vms");
    }

    private static async Task<List<string>> EventsAsync(CrashingConsole console, string id)
    {
        var stored = await console.Client.GetAsync(new Uri($"api/migrations/{id}", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        var record = (await stored.Content.ReadFromJsonAsync<JsonObject>())!;
        return [.. record["events"]!.AsArray().Select(e => (string)e!["status"]!)];
    }

    /// <summary>Waits (60 s at most) until the migration is in <paramref name="status"/>.</summary>
    private static async Task WaitForStatusAsync(CrashingConsole console, string id, string status)
    {
        string? now = null;
        await Eventually.UntilAsync(
            async () => (now = (string?)(await console.Client.GetFromJsonAsync<JsonObject>($"api/migrations/{id}"))!["status"]) == status,
            TimeSpan.FromSeconds(60),
            () => $"{id} is {now}, not {status}");
        Assert.Equal(status, now);
    }
}
