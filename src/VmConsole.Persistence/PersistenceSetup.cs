using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace VmConsole.Persistence;

public static class PersistenceSetup
{
    /// <summary>The console's SQLite database: a context factory on <paramref name="connectionString"/>.</summary>
    public static IServiceCollection AddConsolePersistence(this IServiceCollection services, string connectionString)
    {
        services.AddDbContextFactory<ConsoleDbContext>(options => options.UseSqlite(connectionString));
        return services;
    }

    /// <summary>Makes a relative SQLite file name absolute under <paramref name="baseDirectory"/> and creates its folder.</summary>
    public static string ResolveSqliteFile(string connectionString, string baseDirectory)
    {
        var builder = new SqliteConnectionStringBuilder(connectionString);
        if (builder.DataSource is { Length: > 0 } file && file != ":memory:" && builder.Mode != SqliteOpenMode.Memory)
        {
            builder.DataSource = Path.GetFullPath(file, baseDirectory);
            Directory.CreateDirectory(Path.GetDirectoryName(builder.DataSource)!);
        }

        return builder.ToString();
    }

    /// <summary>Applies the committed migrations and turns on write-ahead logging.</summary>
    public static async Task MigrateAsync(this IDbContextFactory<ConsoleDbContext> factory, CancellationToken cancellationToken)
    {
        await using var db = await factory.CreateDbContextAsync(cancellationToken).ConfigureAwait(false);
        await db.Database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await db.Database.ExecuteSqlRawAsync("PRAGMA journal_mode=WAL;", cancellationToken).ConfigureAwait(false);
    }
}
