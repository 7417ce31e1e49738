using System.Net;
using System.Net.Http.Json;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using VmConsole.Persistence;
using VmConsole.Persistence.Records;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Tests;

/// <summary>
/// Every sign-in, through the sign-in page or the API, failed or successful, is a line of the audit log in plain words
/// ("Signed in", "Sign-in failed for alice") with the user name and the client's address, and never the password.
/// </summary>
public sealed class SignInAuditTests : SignedInApiTest
{
    private const string Address = "127.0.0.77";
    private const string WrongPassword = "Wrong-Password-9";

    [Fact]
    public async Task SignInPage_FailedThenSuccessful_BothInTheAuditLogWithUserAndAddress()
    {
        using var browser = Factory.CreateClientFrom(Address);
        var form = await browser.GetStringAsync(new Uri("/login", UriKind.Relative));
        var token = System.Text.RegularExpressions.Regex.Match(form, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;

        await PostFormAsync(browser, token, "alice", WrongPassword);
        await PostFormAsync(browser, token, "admin", ConsoleFactory.AdminPassword);

        var rows = await AuditAsync("/account/login");
        Assert.Collection(
            rows,
            failed =>
            {
                Assert.Equal(("Sign-in failed for alice", false, "anonymous"), (failed.Action, failed.Allowed, failed.User));
                Assert.Contains(Address, failed.Reason, StringComparison.Ordinal);
                Assert.DoesNotContain(WrongPassword, failed.Reason, StringComparison.Ordinal);
            },
            signedIn =>
            {
                Assert.Equal(("Signed in", true, "admin"), (signedIn.Action, signedIn.Allowed, signedIn.User));
                Assert.Contains(Address, signedIn.Reason, StringComparison.Ordinal);
            });
    }

    [Fact]
    public async Task ApiSignIn_FailedThenSuccessful_BothInTheAuditLogWithUserAndAddress()
    {
        using var client = Factory.CreateClientFrom(Address);

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsJsonAsync("/api/auth/login", new { userName = "alice", password = WrongPassword })).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/api/auth/login", new { userName = "admin", password = ConsoleFactory.AdminPassword })).StatusCode);

        var rows = (await AuditAsync("/api/auth/login")).Where(r => r.Reason?.Contains(Address, StringComparison.Ordinal) == true).ToList();
        Assert.Collection(
            rows,
            failed =>
            {
                Assert.Equal(("Sign-in failed for alice", false, "invalid-credentials"), (failed.Action, failed.Allowed, failed.Code));
                Assert.DoesNotContain(WrongPassword, failed.Reason, StringComparison.Ordinal);
            },
            signedIn => Assert.Equal(("Signed in", true, "admin"), (signedIn.Action, signedIn.Allowed, signedIn.User)));
    }

    private static async Task PostFormAsync(HttpClient browser, string token, string userName, string password) =>
        await browser.PostAsync(new Uri("/account/login", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token, ["userName"] = userName, ["password"] = password, ["returnUrl"] = "/",
        }));
}
