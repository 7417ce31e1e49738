using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Logging;

namespace VmConsole.Server.Tests;

/// <summary>With no configured password, the first start creates the admin with a generated one and prints it once.</summary>
public sealed partial class BootstrapTests
{
    [Fact]
    public async Task FirstStart_NoPasswordConfigured_PrintsAGeneratedOneThatSignsIn()
    {
        var database = Path.Combine(Path.GetTempPath(), $"vmconsole-bootstrap-{Guid.NewGuid():N}.db");
        var lines = new ConcurrentQueue<string>();
        try
        {
            string password;
            await using (var first = new Unconfigured(database, lines))
            {
                using var client = first.CreateClient();
                password = GeneratedPassword().Match(string.Join("\n", lines)).Groups["password"].Value;
                Assert.True(password.Length >= 16, "the generated admin password should be printed on its own line");
                var signIn = await client.PostAsJsonAsync("/api/auth/login", new { userName = "admin", password });
                Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
            }

            lines.Clear();
            await using var second = new Unconfigured(database, lines);
            using var again = second.CreateClient();
            Assert.DoesNotContain(lines, l => l.Contains("generated password", StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.OK, (await again.PostAsJsonAsync("/api/auth/login", new { userName = "admin", password })).StatusCode);
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

    /// <summary>
    /// A restart that restores the inventory and serves the top-level wwwroot logs no warning: a user reading the
    /// console's log should not have to wonder about noise (EF's query-splitting warning on restore, a warning per
    /// request for app.css and reconnect.js from the static-assets endpoint were printed before).
    /// </summary>
    [Fact]
    public async Task SecondStart_RestoringAndServingWwwroot_LogsNoWarning()
    {
        var database = Path.Combine(Path.GetTempPath(), $"vmconsole-quiet-{Guid.NewGuid():N}.db");
        var lines = new ConcurrentQueue<string>();
        try
        {
            await using (var first = new Unconfigured(database, lines))
            {
                using var client = first.CreateClient();
            }

            lines.Clear();
            await using var second = new Unconfigured(database, lines);
            using var again = second.CreateClient();
            foreach (var path in new[] { "/css/app.css", "/js/reconnect.js", "/css/app.css" })
            {
                Assert.Equal(HttpStatusCode.OK, (await again.GetAsync(new Uri(path, UriKind.Relative))).StatusCode);
            }

            Assert.Empty(lines);
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

    [Fact]
    public async Task SecondStart_BootstrapPasswordSetForAnExistingAdmin_WarnsItIsIgnoredAndKeepsThePassword()
    {
        var database = Path.Combine(Path.GetTempPath(), $"vmconsole-ignored-{Guid.NewGuid():N}.db");
        var lines = new ConcurrentQueue<string>();
        try
        {
            await using (var first = new Unconfigured(database, lines))
            {
                using var client = first.CreateClient();
            }

            var password = GeneratedPassword().Match(string.Join("\n", lines)).Groups["password"].Value;
            lines.Clear();
            await using var second = new Unconfigured(database, lines, ("Auth:BootstrapAdminPassword", "Chosen-Password-1"));
            using var again = second.CreateClient();

            Assert.Contains(lines, l => l.Contains("Auth:BootstrapAdminPassword is set but ignored", StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.Unauthorized, (await again.PostAsJsonAsync("/api/auth/login", new { userName = "admin", password = "Chosen-Password-1" })).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await again.PostAsJsonAsync("/api/auth/login", new { userName = "admin", password })).StatusCode);
        }
        finally
        {
            Delete(database);
        }
    }

    [Fact]
    public async Task Start_WithResetAdminPassword_SetsItWarnsAndAuditsIt()
    {
        var database = Path.Combine(Path.GetTempPath(), $"vmconsole-recover-{Guid.NewGuid():N}.db");
        var lines = new ConcurrentQueue<string>();
        try
        {
            await using (var first = new Unconfigured(database, lines))
            {
                using var client = first.CreateClient();
            }

            var lost = GeneratedPassword().Match(string.Join("\n", lines)).Groups["password"].Value;
            lines.Clear();
            await using var second = new Unconfigured(database, lines, ("Auth:ResetAdminPassword", "Recovered-Password-1"));
            using var again = second.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = true });

            Assert.Contains(lines, l => l.Contains("Auth:ResetAdminPassword was used", StringComparison.Ordinal) && l.Contains("Remove the setting", StringComparison.Ordinal));
            Assert.Equal(HttpStatusCode.Unauthorized, (await again.PostAsJsonAsync("/api/auth/login", new { userName = "admin", password = lost })).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await again.PostAsJsonAsync("/api/auth/login", new { userName = "admin", password = "Recovered-Password-1" })).StatusCode);
            var audit = await again.GetFromJsonAsync<System.Text.Json.Nodes.JsonArray>("/api/audit");
            Assert.Contains(audit!, row => (string?)row!["user"] == "console" && ((string?)row["action"] ?? "").Contains("Auth:ResetAdminPassword", StringComparison.Ordinal));
        }
        finally
        {
            Delete(database);
        }
    }

    private static void Delete(string database)
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { database, database + "-wal", database + "-shm" })
        {
            File.Delete(file);
        }
    }

    // The password stands alone on the line after the message, so that it is easy to copy.
    [GeneratedRegex("generated password below[^\\n]*\\n(?<password>\\S+)$", RegexOptions.Multiline)]
    private static partial Regex GeneratedPassword();

    private sealed class Unconfigured(string database, ConcurrentQueue<string> lines, params (string Key, string Value)[] settings) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseContentRoot(RepositoryRoot.Path);
            builder.UseSetting("ConnectionStrings:VmConsole", $"Data Source={database}");
            // No QEMU guest: what is bootstrapped here is the accounts (the repository's runtime directory stays untouched).
            builder.UseSetting("Qemu:Seed:Enabled", "false");
            builder.UseSetting("Qemu:RuntimeDirectory", Path.Combine(Path.GetDirectoryName(database)!, Path.GetFileNameWithoutExtension(database) + "-qemu"));
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }

            builder.ConfigureLogging(logging => logging.AddProvider(new Capture(lines)));
        }
    }

    private sealed class Capture(ConcurrentQueue<string> lines) : ILoggerProvider, ILogger
    {
        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            // Warnings and worse only: the logging framework does not ask a provider's logger before it writes.
            if (IsEnabled(logLevel))
            {
                lines.Enqueue(formatter(state, exception));
            }
        }

        public void Dispose()
        {
        }
    }
}
