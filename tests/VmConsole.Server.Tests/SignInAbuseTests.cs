using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using VmConsole.Persistence;
using VmConsole.Server.Accounts;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Tests;

/// <summary>
/// Strangers cannot shut the operators out or learn who they are: wrong passwords hold back the client that
/// gives them (by address and account, with a growing wait on a fake clock), never the account; an unknown
/// user and a wrong password answer alike; and a flood without a session gets 429s and adds a bounded number
/// of audit rows.
/// </summary>
public sealed class SignInAbuseTests : IAsyncLifetime
{
    private const string Stranger = "127.0.0.66";
    private const string Operator = "127.0.0.10";
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private ConsoleFactory _factory = null!;

    public Task InitializeAsync()
    {
        // Only the throttle runs on the fake clock; everything else keeps real time.
        _factory = new ConsoleFactory(services: services => services.AddSingleton(sp => new SignInThrottle(_clock, sp.GetRequiredService<IOptions<AuthOptions>>())));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync() => await _factory.DisposeAsync();

    [Fact]
    public async Task WrongPasswords_FromOneClient_DoNotStopTheRightPasswordFromAnother()
    {
        using var stranger = _factory.CreateClientFrom(Stranger);
        for (var i = 0; i < 8; i++)
        {
            await LoginAsync(stranger, "admin", "not-the-password");
        }

        using var admin = _factory.CreateClientFrom(Operator);
        var signedIn = await LoginAsync(admin, "admin", ConsoleFactory.AdminPassword);

        Assert.Equal(HttpStatusCode.OK, signedIn.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri("/api/vms", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task WrongPasswords_PastTheFreeOnes_HoldTheClientBackWithAGrowingWait_ThenItMayTryAgain()
    {
        using var stranger = _factory.CreateClientFrom(Stranger);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(stranger, "admin", "not-the-password")).StatusCode);
        }

        // The sixth failure starts a 1 s wait; the seventh, once that has passed, a 2 s one.
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(stranger, "admin", "not-the-password")).StatusCode);
        var held = await LoginAsync(stranger, "admin", ConsoleFactory.AdminPassword);
        await AssertProblemAsync(held, (HttpStatusCode)429, "sign-in-throttled");
        Assert.Equal("1", held.Headers.RetryAfter?.ToString());

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.Unauthorized, (await LoginAsync(stranger, "admin", "not-the-password")).StatusCode);
        _clock.Advance(TimeSpan.FromSeconds(1));
        var stillHeld = await LoginAsync(stranger, "admin", ConsoleFactory.AdminPassword);
        await AssertProblemAsync(stillHeld, (HttpStatusCode)429, "sign-in-throttled");

        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(stranger, "admin", ConsoleFactory.AdminPassword)).StatusCode);
    }

    [Fact]
    public async Task UnknownUserAndWrongPassword_AnswerAlike_EvenWhenHeldBack()
    {
        using var known = _factory.CreateClientFrom("127.0.0.21");
        using var unknown = _factory.CreateClientFrom("127.0.0.22");

        for (var i = 0; i < 7; i++)
        {
            var wrong = await LoginAsync(known, "admin", "not-the-password");
            var nobody = await LoginAsync(unknown, "nobody-here", "not-the-password");

            Assert.Equal(wrong.StatusCode, nobody.StatusCode);
            Assert.Equal(wrong.Headers.RetryAfter?.ToString(), nobody.Headers.RetryAfter?.ToString());
            var a = JsonNode.Parse(await wrong.Content.ReadAsStringAsync())!.AsObject();
            var b = JsonNode.Parse(await nobody.Content.ReadAsStringAsync())!.AsObject();
            a.Remove("traceId");
            b.Remove("traceId");
            Assert.Equal(a.ToJsonString(), b.ToJsonString());
        }
    }

    [Fact]
    public async Task UsersList_NamesTheAccountAClientWaitsFor_AndAnAdminCanLetItTryNow()
    {
        using var stranger = _factory.CreateClientFrom(Stranger);
        for (var i = 0; i < 6; i++)
        {
            await LoginAsync(stranger, "admin", "not-the-password");
        }

        using var admin = await _factory.CreateSignedInClientAsync();
        var listed = await admin.GetFromJsonAsync<JsonArray>("/api/users");
        Assert.NotNull(listed!.Single(u => (string?)u!["userName"] == "admin")!["signInHeldBackUntil"]);

        var forgiven = await admin.PostAsync(new Uri("/api/users/admin/unlock", UriKind.Relative), null);

        Assert.Null((await forgiven.Content.ReadFromJsonAsync<JsonObject>())!["signInHeldBackUntil"]);
        Assert.Equal(HttpStatusCode.OK, (await LoginAsync(stranger, "admin", ConsoleFactory.AdminPassword)).StatusCode);
    }

    [Fact]
    public async Task RefusedSignIns_AreAuditedWithTheAttemptedUserAndAddress()
    {
        using var stranger = _factory.CreateClientFrom(Stranger);
        await LoginAsync(stranger, "admin", "not-the-password");
        await LoginAsync(stranger, "admin", "not-the-password");

        await _factory.Services.GetRequiredService<ConsoleStore>().FlushAsync();
        await using var db = await _factory.Services.GetRequiredService<IDbContextFactory<ConsoleDbContext>>().CreateDbContextAsync();
        var refusal = await db.AuditLog.Where(a => a.Action == "Sign-in failed for admin" && !a.Allowed).SingleAsync();
        Assert.Equal("invalid-credentials", refusal.Code);
        Assert.Contains(Stranger, refusal.Reason);
    }

    [Fact]
    public async Task SignInForm_RefusedAndAllowed_AreAuditedWithTheNameTried()
    {
        using var browser = _factory.CreateClientFrom(Stranger);
        var form = await browser.GetStringAsync(new Uri("/login", UriKind.Relative));
        var token = System.Text.RegularExpressions.Regex.Match(form, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"").Groups[1].Value;
        Assert.NotEmpty(token);

        var wrong = await browser.PostAsync(new Uri("/account/login", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token, ["userName"] = "admin", ["password"] = "not-the-password", ["returnUrl"] = "/",
        }));
        var right = await browser.PostAsync(new Uri("/account/login", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token, ["userName"] = "admin", ["password"] = ConsoleFactory.AdminPassword, ["returnUrl"] = "/",
        }));

        Assert.Contains("error=invalid", wrong.Headers.Location?.ToString());
        Assert.Equal("/", right.Headers.Location?.ToString());
        await _factory.Services.GetRequiredService<ConsoleStore>().FlushAsync();
        await using var db = await _factory.Services.GetRequiredService<IDbContextFactory<ConsoleDbContext>>().CreateDbContextAsync();
        var rows = await db.AuditLog.Where(a => a.Target == "/account/login").OrderBy(a => a.Id).ToListAsync();
        Assert.Collection(
            rows,
            refused =>
            {
                Assert.False(refused.Allowed);
                Assert.Equal("invalid-credentials", refused.Code);
                Assert.Contains("'admin'", refused.Reason);
                Assert.Contains(Stranger, refused.Reason);
            },
            allowed =>
            {
                Assert.True(allowed.Allowed);
                Assert.Equal("admin", allowed.User);
            });
    }

    private static Task<HttpResponseMessage> LoginAsync(HttpClient client, string userName, string password) =>
        client.PostAsJsonAsync("/api/auth/login", new { userName, password });

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string code)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(code, (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["code"]);
    }
}

/// <summary>A flood without a session gets 429s and grows the audit log by a bounded number of rows, whatever its size or number of addresses.</summary>
public sealed class AnonymousFloodTests : IAsyncLifetime
{
    private const int RowsPerMinute = 10;
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"vmconsole-flood-{Guid.NewGuid():N}.db");
    private ConsoleFactory _factory = null!;

    public Task InitializeAsync()
    {
        _factory = new ConsoleFactory(databaseFile: _database, keepDatabase: true, settings: new Dictionary<string, string?>
        {
            ["RateLimits:AnonymousBurst"] = "20",
            ["RateLimits:AnonymousPerSecond"] = "1",
            ["RateLimits:UnauthenticatedAuditRowsPerMinute"] = RowsPerMinute.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _factory.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task AnonymousFlood_FromManyAddresses_Gets429sAndAddsBoundedAuditRowsThatCountEveryRequest()
    {
        using (var signedIn = await _factory.CreateSignedInClientAsync(Roles.Viewer))
        {
            Assert.Equal(HttpStatusCode.OK, (await signedIn.GetAsync(new Uri("/api/vms", UriKind.Relative))).StatusCode);
        }

        var before = await AnonymousRowsAsync(_factory);
        var started = DateTimeOffset.UtcNow;
        var statuses = new List<HttpStatusCode>();

        // 2,000 requests from 40 addresses, 50 each.
        for (var round = 0; round < 50; round++)
        {
            var sends = Enumerable.Range(0, 40).Select(async a =>
            {
                using var client = _factory.CreateClientFrom($"127.0.1.{a + 1}");
                return (await client.GetAsync(new Uri("/api/vms", UriKind.Relative))).StatusCode;
            });
            statuses.AddRange(await Task.WhenAll(sends));
        }

        // A signed-in user is not held back by the flood.
        using (var signedIn = await _factory.CreateSignedInClientAsync(Roles.Viewer))
        {
            Assert.Equal(HttpStatusCode.OK, (await signedIn.GetAsync(new Uri("/api/vms", UriKind.Relative))).StatusCode);
        }

        // Stopping writes the counts of the minute in progress.
        await _factory.DisposeAsync();
        var minutes = (int)Math.Ceiling((DateTimeOffset.UtcNow - started).TotalMinutes) + 1;
        var after = await AnonymousRowsAsync(null);
        var added = after.Where(r => !before.Any(b => b.Id == r.Id)).ToList();

        Assert.Contains((HttpStatusCode)429, statuses);
        Assert.Contains(HttpStatusCode.Unauthorized, statuses);
        Assert.All(statuses, s => Assert.True(s is HttpStatusCode.Unauthorized or (HttpStatusCode)429, $"unexpected {s}"));
        // First occurrences within the budget, a row for each one's repeats, and one summary row, per minute the flood touched.
        Assert.InRange(added.Count, 1, minutes * ((2 * RowsPerMinute) + 1));
        // Nothing is lost: the rows' counts add up to every refused request.
        Assert.Equal(statuses.Count, added.Sum(r => r.Count));
        Assert.Contains(added, r => r.Code == "not-signed-in" && r.Count > 1);
        Assert.Single(added, r => r.Code == "unauthenticated-flood");
    }

    [Fact]
    public async Task RateLimited_Answer_IsProblemDetailsWithRetryAfter()
    {
        using var client = _factory.CreateClientFrom("127.0.2.1");
        HttpResponseMessage? limited = null;
        for (var i = 0; i < 100 && limited is null; i++)
        {
            var response = await client.GetAsync(new Uri("/api/vms", UriKind.Relative));
            if (response.StatusCode == (HttpStatusCode)429)
            {
                limited = response;
            }
        }

        Assert.NotNull(limited);
        Assert.Equal("application/problem+json", limited.Content.Headers.ContentType?.MediaType);
        Assert.Equal("rate-limited", (string?)JsonNode.Parse(await limited.Content.ReadAsStringAsync())!["code"]);
        Assert.NotNull(limited.Headers.RetryAfter);
    }

    /// <summary>The audit rows of callers without a session: through the running console's writer, or (null) from the file once it stopped.</summary>
    private async Task<List<VmConsole.Persistence.Records.AuditRecord>> AnonymousRowsAsync(ConsoleFactory? running)
    {
        if (running is not null)
        {
            await running.Services.GetRequiredService<ConsoleStore>().FlushAsync();
        }

        await using var db = new ConsoleDbContext(new DbContextOptionsBuilder<ConsoleDbContext>().UseSqlite($"Data Source={_database}").Options);
        return await db.AuditLog.AsNoTracking().Where(a => a.User == "anonymous").ToListAsync();
    }
}
