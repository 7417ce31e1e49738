using System.Collections.Concurrent;
using System.Data.Common;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using VmConsole.Persistence;
using VmConsole.Persistence.Records;
using VmConsole.Server.Recording;

namespace VmConsole.Server.Tests;

/// <summary>The background writer on a real SQLite file: what it may drop, what it must not, and how it batches.</summary>
public sealed class ConsoleStoreTests : IAsyncLifetime
{
    private readonly string _database = Path.Combine(Path.GetTempPath(), $"vmconsole-store-{Guid.NewGuid():N}.db");
    private readonly CommitCounter _commits = new();
    private readonly ListLogger _log = new();
    private ServiceProvider _services = null!;

    private IDbContextFactory<ConsoleDbContext> Contexts => _services.GetRequiredService<IDbContextFactory<ConsoleDbContext>>();

    public async Task InitializeAsync()
    {
        _services = new ServiceCollection()
            .AddDbContextFactory<ConsoleDbContext>(options => options.UseSqlite($"Data Source={_database}").AddInterceptors(_commits))
            .BuildServiceProvider();
        await Contexts.MigrateAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in new[] { _database, _database + "-wal", _database + "-shm" })
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Enqueue_QueueFullOfSamples_DropsOnlySamplesCountedAndLogged()
    {
        using var store = new ConsoleStore(Contexts, _log, sampleCapacity: 10);

        // The writer is not started yet, so everything waits in the queue.
        var samples = Enumerable.Range(0, 50).Count(i => store.EnqueueSample(Line("sample")));
        var statuses = Enumerable.Range(0, 50).Count(i => store.Enqueue(Line("status")));
        await store.StartAsync(CancellationToken.None);
        await store.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        await store.StopAsync(CancellationToken.None);

        Assert.Equal(10, samples);
        Assert.Equal(50, statuses);
        Assert.Equal(40, store.DroppedSamples);
        await using var db = await Contexts.CreateDbContextAsync();
        Assert.Equal(50, await db.AuditLog.CountAsync(a => a.Action == "status"));
        Assert.Equal(10, await db.AuditLog.CountAsync(a => a.Action == "sample"));
        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("samples dropped", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Write_ThrowsUnexpectedly_IsLoggedAndTheWriterGoesOn()
    {
        using var store = new ConsoleStore(Contexts, _log);
        await store.StartAsync(CancellationToken.None);

        store.Enqueue(Line("before"));
        store.Enqueue(_ => throw new InvalidDataException("a bug in one write"));
        store.Enqueue(Line("after"));
        await store.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));
        store.Enqueue(Line("later"));
        await store.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(store.ExecuteTask!.IsCompleted, "the writer stopped");
        await store.StopAsync(CancellationToken.None);
        await using var db = await Contexts.CreateDbContextAsync();
        Assert.Equal(["after", "before", "later"], (await db.AuditLog.Select(a => a.Action).ToListAsync()).Order());
        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Error && e.Exception is InvalidDataException);
    }

    [Fact]
    public async Task Write_BatchFailsToCommit_FlushFaultsLoggedAndTheWriterGoesOn()
    {
        using var store = new ConsoleStore(Contexts, _log);

        // Disposing the context's connection under the batch makes its commit throw, outside any one write. Queued
        // before the writer starts, so that the write and the flush are in one batch.
        store.Enqueue(db => db.Database.CloseConnectionAsync());
        var flush = store.FlushAsync();
        await store.StartAsync(CancellationToken.None);
        await Assert.ThrowsAsync<InvalidOperationException>(() => flush.WaitAsync(TimeSpan.FromSeconds(10)));
        store.Enqueue(Line("after"));
        await store.FlushAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(store.ExecuteTask!.IsCompleted, "the writer stopped");
        await store.StopAsync(CancellationToken.None);
        await using var db = await Contexts.CreateDbContextAsync();
        Assert.Equal("after", (await db.AuditLog.SingleAsync()).Action);
        Assert.Contains(_log.Entries, e => e.Level == LogLevel.Error && e.Message.Contains("batch failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Samples_ManyQueued_AreWrittenInFewTransactions()
    {
        using var store = new ConsoleStore(Contexts, _log);
        for (var i = 0; i < 1000; i++)
        {
            store.EnqueueSample(Line("sample")).ShouldBeTrue();
        }

        var before = _commits.Count;
        await store.StartAsync(CancellationToken.None);
        await store.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await store.StopAsync(CancellationToken.None);

        await using var db = await Contexts.CreateDbContextAsync();
        Assert.Equal(1000, await db.AuditLog.CountAsync());
        Assert.InRange(_commits.Count - before, 1, 6);
    }

    private static Func<ConsoleDbContext, Task> Line(string action) => db =>
    {
        db.AuditLog.Add(new AuditRecord { At = DateTimeOffset.UtcNow, User = "test", Action = action, Target = "/", Allowed = true });
        return Task.CompletedTask;
    };

    private sealed class CommitCounter : DbTransactionInterceptor
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public override Task TransactionCommittedAsync(DbTransaction transaction, TransactionEndEventData eventData, CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _count);
            return Task.CompletedTask;
        }
    }

    private sealed class ListLogger : ILogger<ConsoleStore>
    {
        public ConcurrentQueue<(LogLevel Level, string Message, Exception? Exception)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue((logLevel, formatter(state, exception), exception));
    }
}
