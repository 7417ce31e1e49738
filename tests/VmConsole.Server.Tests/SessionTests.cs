using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Connections;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Server.Accounts;
using VmConsole.Emulation.Vms;
using VmConsole.Server.Hubs;

namespace VmConsole.Server.Tests;

/// <summary>
/// A saved copy of a session's cookie is worth nothing once the session ends: after sign-out, a password change
/// or the user's deletion the next request is 401 and the hub connection closes; after a demotion the next
/// request is authorized with the new role (403).
/// </summary>
public sealed class SessionTests : SignedInApiTest
{
    private const string OperatorPassword = "Operator-Password-1";

    [Fact]
    public async Task SavedCookie_AfterLogout_Is401AndItsHubConnectionCloses()
    {
        var cookie = await SignInAsync("ops.olga", Roles.Operator);
        await using var hub = await ConnectAsync(cookie);
        var closed = Closed(hub);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(cookie, "GET", "/api/auth/me")).StatusCode);

        Assert.Equal(HttpStatusCode.NoContent, (await SendAsync(cookie, "POST", "/api/auth/logout")).StatusCode);

        await AssertProblemAsync(await SendAsync(cookie, "GET", "/api/auth/me"), HttpStatusCode.Unauthorized, "not-signed-in");
        await AssertProblemAsync(await SendAsync(cookie, "POST", "/api/vms/tiny-1/power", "{\"action\":\"pause\"}"), HttpStatusCode.Unauthorized, "not-signed-in");
        await closed.WaitAsync(TimeSpan.FromSeconds(30));
        await AssertHubRefusedAsync(cookie);
    }

    [Fact]
    public async Task Logout_OfOneSession_LeavesTheUsersOtherSessions()
    {
        var first = await SignInAsync("ops.olga", Roles.Operator);
        var second = await SignInAsync("ops.olga", Roles.Operator);

        await SendAsync(first, "POST", "/api/auth/logout");

        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(first, "GET", "/api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(second, "GET", "/api/auth/me")).StatusCode);
    }

    [Fact]
    public async Task SavedCookie_OfADemotedOperator_Is403ForOperatorActionsAndStillReads()
    {
        var cookie = await SignInAsync("ops.olga", Roles.Operator);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(cookie, "POST", "/api/vms/tiny-1/power", "{\"action\":\"pause\"}")).StatusCode);

        Assert.Equal(HttpStatusCode.OK, (await Admin.PutAsJsonAsync("/api/users/ops.olga/role", new { role = "viewer" })).StatusCode);

        await AssertProblemAsync(await SendAsync(cookie, "POST", "/api/vms/tiny-1/power", "{\"action\":\"resume\"}"), HttpStatusCode.Forbidden, "forbidden");
        await AssertProblemAsync(await SendAsync(cookie, "POST", "/api/migrations", "{\"vm\":\"tiny-1\",\"destinationHost\":\"host-a\"}"), HttpStatusCode.Forbidden, "forbidden");
        var me = JsonNode.Parse(await (await SendAsync(cookie, "GET", "/api/auth/me")).Content.ReadAsStringAsync())!;
        Assert.Equal([Roles.Viewer], me["roles"]!.AsArray().Select(r => (string)r!));
        Assert.Equal("paused", Factory.Emulator.GetVm("tiny-1").RunState.ToQemuName());
    }

    [Fact]
    public async Task SavedCookie_AfterAnAdminSetsThePassword_Is401AndItsHubConnectionCloses()
    {
        var cookie = await SignInAsync("ops.olga", Roles.Operator);
        await using var hub = await ConnectAsync(cookie);
        var closed = Closed(hub);

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.PutAsJsonAsync("/api/users/ops.olga/password", new { password = "Brand-New-Password-2" })).StatusCode);

        await AssertProblemAsync(await SendAsync(cookie, "POST", "/api/vms/tiny-1/power", "{\"action\":\"pause\"}"), HttpStatusCode.Unauthorized, "not-signed-in");
        await closed.WaitAsync(TimeSpan.FromSeconds(30));
        using var again = Factory.CreateClient();
        Assert.Equal(HttpStatusCode.Unauthorized, (await again.PostAsJsonAsync("/api/auth/login", new { userName = "ops.olga", password = OperatorPassword })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await again.PostAsJsonAsync("/api/auth/login", new { userName = "ops.olga", password = "Brand-New-Password-2" })).StatusCode);
    }

    [Fact]
    public async Task OwnPasswordChange_EndsTheOtherSessionsAndKeepsThisOne()
    {
        var other = await SignInAsync("ops.olga", Roles.Operator);
        var mine = await SignInAsync("ops.olga", Roles.Operator);

        var wrong = await SendAsync(mine, "POST", "/api/auth/password", "{\"currentPassword\":\"not-it\",\"newPassword\":\"Brand-New-Password-2\"}");
        await AssertProblemAsync(wrong, HttpStatusCode.BadRequest, "validation-failed");
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(other, "GET", "/api/auth/me")).StatusCode);

        var changed = await SendAsync(mine, "POST", "/api/auth/password", $"{{\"currentPassword\":\"{OperatorPassword}\",\"newPassword\":\"Brand-New-Password-2\"}}");

        Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await SendAsync(other, "GET", "/api/auth/me")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await SendAsync(mine, "GET", "/api/auth/me")).StatusCode);
    }

    [Fact]
    public async Task SavedCookie_OfADeletedOperator_Is401ForEverythingAndItsHubConnectionCloses()
    {
        var cookie = await SignInAsync("ops.olga", Roles.Operator);
        await using var hub = await ConnectAsync(cookie);
        var closed = Closed(hub);

        Assert.Equal(HttpStatusCode.NoContent, (await Admin.DeleteAsync(new Uri("/api/users/ops.olga", UriKind.Relative))).StatusCode);

        await AssertProblemAsync(await SendAsync(cookie, "POST", "/api/vms/tiny-1/power", "{\"action\":\"pause\"}"), HttpStatusCode.Unauthorized, "not-signed-in");
        await AssertProblemAsync(await SendAsync(cookie, "POST", "/api/migrations", "{\"vm\":\"tiny-1\",\"destinationHost\":\"host-a\"}"), HttpStatusCode.Unauthorized, "not-signed-in");
        await AssertProblemAsync(await SendAsync(cookie, "GET", "/api/vms"), HttpStatusCode.Unauthorized, "not-signed-in");
        Assert.Equal("running", Factory.Emulator.GetVm("tiny-1").RunState.ToQemuName());
        await closed.WaitAsync(TimeSpan.FromSeconds(30));
        await AssertHubRefusedAsync(cookie);

        // The audit log never names the deleted user for anything after the deletion.
        await Factory.Services.GetRequiredService<VmConsole.Server.Recording.ConsoleStore>().FlushAsync();
        var audit = await Admin.GetFromJsonAsync<JsonArray>("/api/audit");
        Assert.DoesNotContain(audit!, a => (string?)a!["user"] == "ops.olga" && (string?)a["action"] != "Signed in");
        Assert.Contains(audit!, a => (string?)a!["user"] == "anonymous" && ((string?)a["action"])!.StartsWith("Started migration of ", StringComparison.Ordinal) && (string?)a["code"] == "not-signed-in");
    }

    [Fact]
    public async Task Session_AfterARestartOnTheSameDatabase_IsStillValidAndStillRevocable()
    {
        var database = Path.Combine(Path.GetTempPath(), $"vmconsole-sessions-{Guid.NewGuid():N}.db");
        try
        {
            string cookie;
            await using (var first = new ConsoleFactory(databaseFile: database, keepDatabase: true))
            {
                cookie = await first.SignInCookieAsync(Roles.Viewer);
            }

            await using var second = new ConsoleFactory(databaseFile: database);
            using var client = second.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
            Assert.Equal(HttpStatusCode.OK, (await Send(client, cookie, "GET", "/api/auth/me")).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await Send(client, cookie, "POST", "/api/auth/logout")).StatusCode);
            Assert.Equal(HttpStatusCode.Unauthorized, (await Send(client, cookie, "GET", "/api/auth/me")).StatusCode);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            foreach (var file in new[] { database, database + "-wal", database + "-shm" })
            {
                File.Delete(file);
            }
        }
    }

    /// <summary>Creates <paramref name="name"/> with <paramref name="role"/> (once) and signs in; returns the session's cookie.</summary>
    private async Task<string> SignInAsync(string name, string role)
    {
        var users = await Admin.GetFromJsonAsync<JsonArray>("/api/users");
        if (!users!.Any(u => (string?)u!["userName"] == name))
        {
            (await Admin.PostAsJsonAsync("/api/users", new { userName = name, password = OperatorPassword, role })).EnsureSuccessStatusCode();
        }

        using var client = Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        var response = await client.PostAsJsonAsync("/api/auth/login", new { userName = name, password = OperatorPassword });
        response.EnsureSuccessStatusCode();
        return string.Join("; ", response.Headers.GetValues("Set-Cookie").Select(c => c.Split(';')[0]));
    }

    private async Task<HttpResponseMessage> SendAsync(string cookie, string method, string path, string? body = null)
    {
        using var client = Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        return await Send(client, cookie, method, path, body);
    }

    private static Task<HttpResponseMessage> Send(HttpClient client, string cookie, string method, string path, string? body = null)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
        {
            Content = body is null ? null : new StringContent(body, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Cookie", cookie);
        return client.SendAsync(request);
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal(code, (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["code"]);
    }

    private HubConnection Connect(string cookie) => new HubConnectionBuilder()
        .WithUrl(new Uri(Factory.Server.BaseAddress, ConsoleHub.Path), options =>
        {
            options.Transports = HttpTransportType.LongPolling;
            options.HttpMessageHandlerFactory = _ => Factory.Server.CreateHandler();
            options.Headers["Cookie"] = cookie;
        })
        .Build();

    private async Task<HubConnection> ConnectAsync(string cookie)
    {
        var hub = Connect(cookie);
        await hub.StartAsync();
        await hub.InvokeAsync(nameof(ConsoleHub.SubscribeAll));
        return hub;
    }

    private static Task Closed(HubConnection hub)
    {
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        hub.Closed += _ =>
        {
            closed.TrySetResult();
            return Task.CompletedTask;
        };
        return closed.Task;
    }

    private async Task AssertHubRefusedAsync(string cookie)
    {
        await using var again = Connect(cookie);
        var error = await Assert.ThrowsAsync<HttpRequestException>(() => again.StartAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
    }
}

/// <summary>A live page's user follows its session: signed out at once when it ends, re-authorized when the role changes.</summary>
public sealed class LivePageSessionTests : SignedInApiTest
{
    [Fact]
    public async Task LivePage_SessionEndsOrRoleChanges_FollowsAtOnce()
    {
        (await Admin.PostAsJsonAsync("/api/users", new { userName = "ops.page", password = "Operator-Password-1", role = "operator" })).EnsureSuccessStatusCode();
        var registry = Factory.Services.GetRequiredService<SessionRegistry>();
        using var client = Factory.CreateClient();
        (await client.PostAsJsonAsync("/api/auth/login", new { userName = "ops.page", password = "Operator-Password-1" })).EnsureSuccessStatusCode();
        var session = Assert.Single(registry.OfUser("ops.page"));
        var identity = new System.Security.Claims.ClaimsIdentity(
            [new(System.Security.Claims.ClaimTypes.Name, "ops.page"), new(System.Security.Claims.ClaimTypes.Role, Roles.Operator), new(SessionRegistry.ClaimType, session.Id)],
            "Identity.Application");
        using var page = new SessionAuthenticationStateProvider(Factory.Services.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>(), registry);
        page.SetAuthenticationState(Task.FromResult(new Microsoft.AspNetCore.Components.Authorization.AuthenticationState(new System.Security.Claims.ClaimsPrincipal(identity))));
        var changes = new List<System.Security.Claims.ClaimsPrincipal>();
        page.AuthenticationStateChanged += async state => changes.Add((await state).User);

        (await Admin.PutAsJsonAsync("/api/users/ops.page/role", new { role = "viewer" })).EnsureSuccessStatusCode();

        var demoted = Assert.Single(changes);
        Assert.True(demoted.IsInRole(Roles.Viewer));
        Assert.False(demoted.IsInRole(Roles.Operator));

        (await client.PostAsync(new Uri("/api/auth/logout", UriKind.Relative), null)).EnsureSuccessStatusCode();

        Assert.Equal(2, changes.Count);
        Assert.False(changes[1].Identity?.IsAuthenticated);
        Assert.False((await page.GetAuthenticationStateAsync()).User.Identity?.IsAuthenticated);
    }
}
