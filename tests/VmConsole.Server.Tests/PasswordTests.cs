using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Persistence;
using VmConsole.Persistence.Records;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Tests;

/// <summary>
/// Users change their own password (the current one first: a wrong one changes nothing); an admin sets another
/// user's, and nobody else can. Each change, allowed or refused, is in the audit log.
/// </summary>
public sealed class PasswordTests : SignedInApiTest
{
    private const string AnnaPassword = "Anna-Password-1";
    private const string NewPassword = "Brand-New-Password-2";

    [Fact]
    public async Task ChangeOwnPassword_RightCurrentPassword_TheNewOneSignsInAndItIsAudited()
    {
        using var anna = await SignInAsync("anna", "operator");

        var changed = await anna.PostAsJsonAsync("/api/auth/password", new { currentPassword = AnnaPassword, newPassword = NewPassword });

        Assert.Equal(HttpStatusCode.NoContent, changed.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await SignInStatusAsync("anna", AnnaPassword));
        Assert.Equal(HttpStatusCode.OK, await SignInStatusAsync("anna", NewPassword));
        var row = Assert.Single(await AuditAsync("/api/auth/password"));
        Assert.Equal("anna", row.User);
        Assert.True(row.Allowed);
        Assert.Equal("Changed own password", row.Action);
    }

    [Fact]
    public async Task ChangeOwnPassword_WrongCurrentPassword_IsAClearErrorAndChangesNothing()
    {
        using var anna = await SignInAsync("anna", "operator");

        var wrong = await anna.PostAsJsonAsync("/api/auth/password", new { currentPassword = "not-my-password", newPassword = NewPassword });

        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        var problem = JsonNode.Parse(await wrong.Content.ReadAsStringAsync())!;
        Assert.Equal("This is not your current password.", (string?)problem["errors"]!["currentPassword"]![0]);
        Assert.Equal(HttpStatusCode.OK, await SignInStatusAsync("anna", AnnaPassword));
        Assert.Equal(HttpStatusCode.Unauthorized, await SignInStatusAsync("anna", NewPassword));
        var row = Assert.Single(await AuditAsync("/api/auth/password"));
        Assert.False(row.Allowed);
        Assert.Contains("not your current password", row.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(NewPassword, row.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ResetPassword_ByAnAdmin_TheNewOneSignsInTheOldOneNotAndItIsAudited()
    {
        await CreateUserAsync("anna", "viewer");

        var reset = await Admin.PutAsJsonAsync("/api/users/anna/password", new { password = NewPassword });

        Assert.Equal(HttpStatusCode.NoContent, reset.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await SignInStatusAsync("anna", AnnaPassword));
        Assert.Equal(HttpStatusCode.OK, await SignInStatusAsync("anna", NewPassword));
        var row = Assert.Single(await AuditAsync("/api/users/anna/password"));
        Assert.Equal("admin", row.User);
        Assert.True(row.Allowed);
        Assert.Equal("Reset the password of anna", row.Action);
    }

    [Fact]
    public async Task ResetPassword_ByAnOperator_Is403AndChangesNothing()
    {
        await CreateUserAsync("anna", "viewer");
        using var olga = await SignInAsync("olga", "operator");

        var refused = await olga.PutAsJsonAsync("/api/users/anna/password", new { password = NewPassword });

        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("forbidden", (string?)JsonNode.Parse(await refused.Content.ReadAsStringAsync())!["code"]);
        Assert.Equal(HttpStatusCode.OK, await SignInStatusAsync("anna", AnnaPassword));
        var row = Assert.Single(await AuditAsync("/api/users/anna/password"));
        Assert.Equal("olga", row.User);
        Assert.False(row.Allowed);
    }

    private async Task CreateUserAsync(string name, string role)
    {
        var password = name == "anna" ? AnnaPassword : "Olga-Password-1";
        (await Admin.PostAsJsonAsync("/api/users", new { userName = name, password, role })).EnsureSuccessStatusCode();
    }

    private async Task<HttpClient> SignInAsync(string name, string role)
    {
        await CreateUserAsync(name, role);
        var client = Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = true });
        (await client.PostAsJsonAsync("/api/auth/login", new { userName = name, password = name == "anna" ? AnnaPassword : "Olga-Password-1" })).EnsureSuccessStatusCode();
        return client;
    }

    private async Task<HttpStatusCode> SignInStatusAsync(string name, string password)
    {
        using var client = Factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        return (await client.PostAsJsonAsync("/api/auth/login", new { userName = name, password })).StatusCode;
    }
}
