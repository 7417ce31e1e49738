using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Server.Accounts;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Tests;

/// <summary>The audit log names who came in, and who was turned away at the door (401/403) and why.</summary>
public sealed class AuditAccessTests : SignedInApiTest
{
    [Fact]
    public async Task ApiRoute_NotSignedInOrRoleTooSmall_IsAuditedRefusedWithUserAndCode()
    {
        using var anonymous = Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        using var viewer = await Factory.CreateSignedInClientAsync(Roles.Viewer);

        var unauthorized = await anonymous.PostAsync(new Uri("/api/vms/web-1/power", UriKind.Relative), Json("{\"action\":\"pause\"}"));
        var forbidden = await viewer.DeleteAsync(new Uri("/api/vms/tiny-1", UriKind.Relative));
        await Factory.Services.GetRequiredService<ConsoleStore>().FlushAsync();

        Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        var refused = (await Admin.GetFromJsonAsync<JsonArray>("/api/audit?outcome=refused"))!;
        var door = Assert.Single(refused, a => (string?)a!["code"] == "not-signed-in")!;
        Assert.Equal("anonymous", (string?)door["user"]);
        Assert.Equal("Changed the power state of web-1", (string?)door["action"]);
        Assert.Equal("web-1", (string?)door["vm"]);
        var role = Assert.Single(refused, a => (string?)a!["code"] == "forbidden")!;
        Assert.Equal("viewer", (string?)role["user"]);
        Assert.Equal("Deleted VM tiny-1", (string?)role["action"]);
        Assert.Equal("tiny-1", (string?)role["vm"]);
        Assert.Equal("running", (string?)(await Admin.GetFromJsonAsync<JsonObject>("/api/vms/web-1"))!["runState"]);
    }

    [Fact]
    public async Task Login_Succeeds_IsAuditedWithTheUsersName()
    {
        await Factory.Services.GetRequiredService<ConsoleStore>().FlushAsync();

        var logins = (await Admin.GetFromJsonAsync<JsonArray>("/api/audit?outcome=allowed"))!
            .Where(a => (string?)a!["action"] == "Signed in" && (string?)a["target"] == "/api/auth/login").ToList();

        var login = Assert.Single(logins)!;
        Assert.Equal("admin", (string?)login["user"]);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");
}
