using System.Text.Json;
using VmConsole.Qemu.Qmp;

namespace VmConsole.Qemu.Tests;

/// <summary>The QMP client against a monitor the test scripts line by line.</summary>
public sealed class QmpClientTests : IAsyncLifetime
{
    private readonly FakeQmpServer _qemu = new();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _qemu.DisposeAsync();

    [Fact]
    public async Task Connect_Greeting_NegotiatesCapabilitiesFirstAndReportsTheVersion()
    {
        var connecting = QmpClient.ConnectAsync(_qemu.Path);
        await _qemu.AcceptAsync();

        var first = await _qemu.ReadCommandAsync();
        Assert.Equal("qmp_capabilities", first["execute"]!.GetValue<string>());
        Assert.False(connecting.IsCompleted, "connected before qmp_capabilities was answered");
        await _qemu.ReplyAsync(first, "{}");
        await using var client = await connecting;

        Assert.Equal(new QmpVersion(7, 2, 22, "Debian 1:7.2+dfsg-7+deb12u18"), client.Version);
        Assert.Null(client.CloseReason);
    }

    [Fact]
    public async Task Execute_RepliesInAnotherOrder_EachGoesToItsCommandById()
    {
        await using var client = await ConnectAsync();

        var status = client.ExecuteAsync("query-status");
        var name = client.ExecuteAsync("query-name");
        var first = await _qemu.ReadCommandAsync();
        var second = await _qemu.ReadCommandAsync();
        Assert.NotEqual(first["id"]!.GetValue<string>(), second["id"]!.GetValue<string>());
        await _qemu.ReplyAsync(second, """{"name": "vm1"}""");
        await _qemu.ReplyAsync(first, """{"status": "running", "running": true}""");

        Assert.Equal("running", (await status).GetProperty("status").GetString());
        Assert.Equal("vm1", (await name).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Execute_WithArguments_SendsThemUnderTheirNames()
    {
        await using var client = await ConnectAsync();

        var calc = client.ExecuteAsync("calc-dirty-rate", new Dictionary<string, object> { ["calc-time"] = 1 });
        var sent = await _qemu.ReadCommandAsync();
        await _qemu.ReplyAsync(sent, "{}");
        await calc;

        Assert.Equal(1, sent["arguments"]!["calc-time"]!.GetValue<int>());
    }

    [Fact]
    public async Task Events_BetweenReplies_RaisedInOrderWhileRepliesStillMatch()
    {
        await using var client = await ConnectAsync();
        var events = new List<QmpEvent>();
        client.EventReceived += e =>
        {
            lock (events)
            {
                events.Add(e);
            }
        };

        var stop = client.ExecuteAsync("stop");
        var command = await _qemu.ReadCommandAsync();
        await _qemu.EventAsync("STOP");
        await _qemu.EventAsync("MIGRATION", """{"status": "setup"}""");
        await _qemu.ReplyAsync(command, "{}");
        await stop;
        var resumed = client.WaitForEventAsync("RESUME", null, TimeSpan.FromSeconds(30));
        await _qemu.EventAsync("RESUME");
        var resume = await resumed;

        lock (events)
        {
            Assert.Equal(["STOP", "MIGRATION", "RESUME"], events.Select(e => e.Name));
            Assert.Equal("setup", events[1].Data.GetProperty("status").GetString());
        }

        Assert.Equal(new DateTimeOffset(2025, 12, 2, 12, 0, 0, 250, TimeSpan.Zero), resume.Timestamp);
    }

    [Fact]
    public async Task Execute_ErrorReply_ThrowsWithQemusClassAndWords()
    {
        await using var client = await ConnectAsync();

        var plug = client.ExecuteAsync("device_add", new Dictionary<string, object> { ["driver"] = "pc-dimm", ["id"] = "dimm2", ["memdev"] = "mem2" });
        await _qemu.ErrorAsync(await _qemu.ReadCommandAsync(), "GenericError", "device_add not allowed while migrating");

        var refused = await Assert.ThrowsAsync<QmpException>(() => plug);
        Assert.Equal(("device_add", "GenericError", "device_add not allowed while migrating"), (refused.Command, refused.ErrorClass, refused.Description));
        Assert.Contains("device_add not allowed while migrating", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_NoAnswerInTime_TimesOutAndItsLateAnswerIsDropped()
    {
        await using var client = await ConnectAsync();

        var slow = client.ExecuteAsync("query-migrate", timeout: TimeSpan.FromMilliseconds(200));
        var unanswered = await _qemu.ReadCommandAsync();
        var timedOut = await Assert.ThrowsAsync<QmpTimeoutException>(() => slow);
        Assert.Equal("query-migrate", timedOut.Command);

        // The late answer has nobody waiting; the next command gets its own answer, not that one.
        await _qemu.ReplyAsync(unanswered, """{"status": "active"}""");
        var next = client.ExecuteAsync("query-status");
        await _qemu.ReplyAsync(await _qemu.ReadCommandAsync(), """{"status": "paused"}""");
        Assert.Equal("paused", (await next).GetProperty("status").GetString());
        Assert.Null(client.CloseReason);
    }

    [Fact]
    public async Task Close_WhileACommandWaits_FailsItAndEveryLaterOne()
    {
        await using var client = await ConnectAsync();

        var quit = client.ExecuteAsync("query-status");
        await _qemu.ReadCommandAsync();
        _qemu.Drop();

        var broken = await Assert.ThrowsAsync<QmpDisconnectedException>(() => quit);
        Assert.Contains("'query-status'", broken.Message, StringComparison.Ordinal);
        await client.Closed.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.NotNull(client.CloseReason);
        await Assert.ThrowsAsync<QmpDisconnectedException>(() => client.ExecuteAsync("query-status"));
        await Assert.ThrowsAsync<QmpDisconnectedException>(() => client.WaitForEventAsync("SHUTDOWN", null, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Framing_ALineInPiecesAndLinesTogether_ReadAsWholeMessages()
    {
        await using var client = await ConnectAsync();
        var events = new List<string>();
        client.EventReceived += e =>
        {
            lock (events)
            {
                events.Add(e.Name);
            }
        };

        var first = client.ExecuteAsync("query-status");
        var command = await _qemu.ReadCommandAsync();
        var id = command["id"]!.GetValue<string>();
        await _qemu.WriteRawAsync("""{"return": {"status": "run""");
        await _qemu.WriteRawAsync($$"""ning"}, "id": "{{id}}"}""" + "\n");
        Assert.Equal("running", (await first).GetProperty("status").GetString());

        var second = client.ExecuteAsync("query-name");
        var next = await _qemu.ReadCommandAsync();
        await _qemu.WriteRawAsync(
            """{"timestamp": {"seconds": 1, "microseconds": 0}, "event": "STOP"}""" + "\n"
            + $$"""{"return": {"name": "vm1"}, "id": "{{next["id"]!.GetValue<string>()}}"}""" + "\r\n");
        Assert.Equal("vm1", (await second).GetProperty("name").GetString());
        lock (events)
        {
            Assert.Equal(["STOP"], events);
        }
    }

    [Fact]
    public async Task Connect_NoGreeting_TimesOutSayingAnotherClientMayHoldTheMonitor()
    {
        var connecting = QmpClient.ConnectAsync(_qemu.Path, QmpTimeouts.Default with { Short = TimeSpan.FromMilliseconds(300) });
        await _qemu.AcceptAsync(greet: false);

        var silent = await Assert.ThrowsAsync<QmpTimeoutException>(() => connecting);
        Assert.Contains("another client may hold it", silent.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_NothingListening_SaysWhere()
    {
        var path = Path.Combine(Path.GetDirectoryName(_qemu.Path)!, "nobody");

        var refused = await Assert.ThrowsAsync<QmpDisconnectedException>(() => QmpClient.ConnectAsync(path));
        Assert.Contains(path, refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dispatch_NotQmp_ClosesWithTheReasonAndFailsWhatWaits()
    {
        await using var client = await ConnectAsync();

        var waiting = client.ExecuteAsync("query-status");
        await _qemu.ReadCommandAsync();
        await _qemu.SendAsync("this is not json");

        await Assert.ThrowsAsync<QmpDisconnectedException>(() => waiting);
        Assert.Contains("not QMP", client.CloseReason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Execute_NotACommandName_RefusedBeforeSending()
    {
        await using var client = await ConnectAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => client.ExecuteAsync("quit\"}\n{\"execute\":\"quit"));
        var next = client.ExecuteAsync("query-status");
        var sent = await _qemu.ReadCommandAsync();
        Assert.Equal("query-status", sent["execute"]!.GetValue<string>());
        await _qemu.ReplyAsync(sent, "{}");
        await next;
    }

    private async Task<QmpClient> ConnectAsync()
    {
        var connecting = QmpClient.ConnectAsync(_qemu.Path);
        await _qemu.AcceptAndNegotiateAsync();
        return await connecting;
    }
}
