using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Tests;

/// <summary>Who may call what: 401 without sign-in, 403 for a role that lacks the right, no lockout (SignInAbuseTests).</summary>
public sealed class AuthTests : IClassFixture<AuthTests.Fixture>
{
    private const string Body = "{}";
    private readonly Fixture _fixture;

    public AuthTests(Fixture fixture) => _fixture = fixture;

    public static TheoryData<string, string> EveryRoute { get; } = new()
    {
        { "GET", "/api/auth/me" }, { "POST", "/api/auth/logout" },
        { "GET", "/api/hosts" },
        { "GET", "/api/vms" }, { "POST", "/api/vms" }, { "GET", "/api/vms/db-1" }, { "DELETE", "/api/vms/db-1" },
        { "POST", "/api/vms/db-1/power" }, { "PUT", "/api/vms/db-1/workload" },
        { "GET", "/api/vms/db-1/ramblocks" }, { "POST", "/api/vms/db-1/ramblocks" }, { "DELETE", "/api/vms/db-1/ramblocks/8" },
        { "PUT", "/api/vms/db-1/ramblocks/1/migratable" }, { "PUT", "/api/vms/db-1/ramblocks/4/size" },
        { "GET", "/api/vms/db-1/devices" }, { "POST", "/api/vms/db-1/devices" }, { "DELETE", "/api/vms/db-1/devices/dimm0-dev" },
        { "POST", "/api/migrations" }, { "GET", "/api/migrations" }, { "GET", "/api/migrations/mig-x" }, { "GET", "/api/migrations/mig-x/samples" },
        { "POST", "/api/migrations/mig-x/cancel" }, { "POST", "/api/migrations/mig-x/continue" },
        { "GET", "/api/audit" },
    };

    public static TheoryData<string, string> OperatorRoutes { get; } = new()
    {
        { "POST", "/api/vms/db-1/power" }, { "POST", "/api/migrations" }, { "POST", "/api/migrations/mig-x/cancel" }, { "POST", "/api/migrations/mig-x/continue" },
    };

    public static TheoryData<string, string> AdminRoutes { get; } = new()
    {
        { "POST", "/api/vms" }, { "DELETE", "/api/vms/db-1" }, { "PUT", "/api/vms/db-1/workload" },
        { "POST", "/api/vms/db-1/ramblocks" }, { "DELETE", "/api/vms/db-1/ramblocks/8" },
        { "PUT", "/api/vms/db-1/ramblocks/1/migratable" }, { "PUT", "/api/vms/db-1/ramblocks/4/size" },
        { "POST", "/api/vms/db-1/devices" }, { "DELETE", "/api/vms/db-1/devices/dimm0-dev" },
    };

    [Theory]
    [MemberData(nameof(EveryRoute))]
    public async Task Route_NotSignedIn_Is401ProblemDetails(string method, string path)
    {
        using var anonymous = _fixture.Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });

        var response = await SendAsync(anonymous, method, path);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("not-signed-in", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["code"]);
    }

    [Theory]
    [MemberData(nameof(OperatorRoutes))]
    [MemberData(nameof(AdminRoutes))]
    public async Task ChangingRoute_AsViewer_Is403(string method, string path)
    {
        var response = await SendAsync(_fixture.Viewer, method, path);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("forbidden", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["code"]);
    }

    [Theory]
    [MemberData(nameof(AdminRoutes))]
    public async Task AdminRoute_AsOperator_Is403(string method, string path)
    {
        var response = await SendAsync(_fixture.Operator, method, path);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }

    [Theory]
    [MemberData(nameof(OperatorRoutes))]
    public async Task OperatorRoute_AsOperator_GetsPastAuthorization(string method, string path)
    {
        var response = await SendAsync(_fixture.Operator, method, path);

        // The empty body is refused by the route itself (400) or the id is unknown (404): authorization let it through.
        Assert.Contains(response.StatusCode, new[] { HttpStatusCode.BadRequest, HttpStatusCode.NotFound });
    }

    [Theory]
    [InlineData("file:/tmp/overwritten")]
    [InlineData("unix:/tmp/replaced.sock")]
    public async Task Migrate_ToAServerPath_AsOperator_Is403(string uri)
    {
        var response = await _fixture.Operator.PostAsJsonAsync("/api/migrations", new { vm = "web-1", uri });

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("forbidden", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["code"]);
    }

    [Fact]
    public async Task Logout_SignedIn_EndsTheSession()
    {
        using var client = await _fixture.Factory.CreateSignedInClientAsync(Roles.Viewer);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(new Uri("/api/auth/me", UriKind.Relative))).StatusCode);

        var logout = await client.PostAsync(new Uri("/api/auth/logout", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync(new Uri("/api/auth/me", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task Me_AsViewer_NamesTheUserAndRole()
    {
        var me = await _fixture.Viewer.GetFromJsonAsync<JsonObject>("/api/auth/me");

        Assert.Equal("viewer", (string?)me!["userName"]);
        Assert.Equal([Roles.Viewer], me["roles"]!.AsArray().Select(r => (string)r!));
    }

    [Fact]
    public async Task Login_WrongPassword_Is401AndAudited()
    {
        using var client = _fixture.Factory.CreateClient();
        var wrong = await client.PostAsJsonAsync("/api/auth/login", new { userName = "operator", password = "not-it" });
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal("invalid-credentials", (string?)JsonNode.Parse(await wrong.Content.ReadAsStringAsync())!["code"]);
        await _fixture.Factory.Services.GetRequiredService<VmConsole.Server.Recording.ConsoleStore>().FlushAsync();
        var refusals = await _fixture.Factory.Services.GetRequiredService<Microsoft.EntityFrameworkCore.IDbContextFactory<VmConsole.Persistence.ConsoleDbContext>>().CreateDbContext()
            .AuditLog.Where(a => !a.Allowed && a.Action == "Sign-in failed for operator").Select(a => a.Code).ToListAsync();
        Assert.Contains("invalid-credentials", refusals);
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string path) =>
        client.SendAsync(new HttpRequestMessage(new HttpMethod(method), new Uri(path, UriKind.Relative))
        {
            Content = method is "GET" or "DELETE" ? null : new StringContent(Body, Encoding.UTF8, "application/json"),
        });

    public sealed class Fixture : IAsyncLifetime
    {
        public ConsoleFactory Factory { get; } = new();

        public HttpClient Viewer { get; private set; } = null!;

        public HttpClient Operator { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            Viewer = await Factory.CreateSignedInClientAsync(Roles.Viewer);
            Operator = await Factory.CreateSignedInClientAsync(Roles.Operator);
        }

        public async Task DisposeAsync()
        {
            Viewer.Dispose();
            Operator.Dispose();
            await Factory.DisposeAsync();
        }
    }
}
