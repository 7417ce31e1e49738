using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using VmConsole.Persistence;
using VmConsole.Persistence.Records;

namespace VmConsole.Server.Accounts;

/// <summary>
/// The console's sessions, server side: a sign-in cookie is honoured only while its session is here. Signing
/// out ends one session; a password change or deleting the user ends all of the user's; a role change
/// rewrites the role every one of them is authorized with. Each change is committed to the database before
/// the call returns, so it survives a crash, and is checked in memory on every request (no query per request).
/// </summary>
public sealed partial class SessionRegistry(IDbContextFactory<ConsoleDbContext> contexts, TimeProvider time, IOptions<AuthOptions> options, ILogger<SessionRegistry> logger) : IHostedService
{
    /// <summary>The cookie's claim that names its session.</summary>
    public const string ClaimType = "vmconsole:session";

    // Live sessions by id. Written only under _writes (after the database has the change); read lock-free by
    // every request.
    private readonly ConcurrentDictionary<string, ConsoleSession> _sessions = new(StringComparer.Ordinal);

    // Serializes the changes, so that a session cannot start for a user whose sessions are being ended with a
    // password that was just changed (the start re-reads the user's security stamp under it).
    private readonly SemaphoreSlim _writes = new(1, 1);

    /// <summary>Raised after a session ended (signed out, revoked or expired), on the thread that ended it.</summary>
    public event Action<ConsoleSession>? Ended;

    /// <summary>Raised after a session's role changed.</summary>
    public event Action<ConsoleSession>? RoleChanged;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        await using var db = await contexts.CreateDbContextAsync(cancellationToken);
        await db.Sessions.Where(s => s.ExpiresAt <= now).ExecuteDeleteAsync(cancellationToken);
        foreach (var row in await db.Sessions.AsNoTracking().ToListAsync(cancellationToken))
        {
            _sessions[row.Id] = new ConsoleSession(row.Id, row.UserId, row.UserName, row.Role, row.CreatedAt, row.ExpiresAt);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>The live session <paramref name="id"/>; an expired one is ended on the way.</summary>
    public bool TryGet(string? id, out ConsoleSession session)
    {
        session = null!;
        if (id is null || !_sessions.TryGetValue(id, out var found))
        {
            return false;
        }

        if (found.ExpiresAt <= time.GetUtcNow())
        {
            _ = EndAsync(id);
            return false;
        }

        session = found;
        return true;
    }

    /// <summary>The live sessions of <paramref name="userName"/>.</summary>
    public IReadOnlyList<ConsoleSession> OfUser(string userName) => [.. _sessions.Values.Where(s => s.UserName == userName)];

    /// <summary>
    /// Starts a session for a user whose password was checked with security stamp <paramref name="stamp"/>.
    /// Null when the user is gone or the password changed since the check (the sign-in must then fail).
    /// </summary>
    public async Task<ConsoleSession?> BeginAsync(string userId, string? stamp, CancellationToken cancellationToken = default)
    {
        await _writes.WaitAsync(cancellationToken);
        try
        {
            await using var db = await contexts.CreateDbContextAsync(cancellationToken);
            var user = await db.Users.AsNoTracking().Where(u => u.Id == userId).Select(u => new { u.UserName, u.SecurityStamp }).SingleOrDefaultAsync(cancellationToken);
            if (user?.UserName is null || user.SecurityStamp != stamp)
            {
                return null;
            }

            var role = await RoleOfAsync(db, userId, cancellationToken);
            var now = time.GetUtcNow();
            var session = new ConsoleSession(
                Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)), userId, user.UserName, role, now, now + options.Value.SessionLifetime);
            db.Sessions.Add(new SessionRecord
            {
                Id = session.Id, UserId = userId, UserName = session.UserName, Role = role, CreatedAt = now, ExpiresAt = session.ExpiresAt,
            });
            await db.SaveChangesAsync(cancellationToken);
            _sessions[session.Id] = session;
            return session;
        }
        finally
        {
            _writes.Release();
        }
    }

    /// <summary>Ends one session (sign-out); nothing when it is not live.</summary>
    public Task EndAsync(string id) => EndWhereAsync(s => s.Id == id, db => db.Sessions.Where(s => s.Id == id));

    /// <summary>Ends every session of <paramref name="userId"/> but <paramref name="except"/> (password change, deletion).</summary>
    public Task EndAllAsync(string userId, string? except = null) =>
        EndWhereAsync(s => s.UserId == userId && s.Id != except, db => db.Sessions.Where(s => s.UserId == userId && s.Id != except));

    /// <summary>From now on, every session of <paramref name="userId"/> is authorized as <paramref name="role"/>.</summary>
    public async Task SetRoleAsync(string userId, string role)
    {
        await _writes.WaitAsync();
        var changed = new List<ConsoleSession>();
        try
        {
            await using var db = await contexts.CreateDbContextAsync();
            await db.Sessions.Where(s => s.UserId == userId).ExecuteUpdateAsync(set => set.SetProperty(s => s.Role, role));
            foreach (var session in _sessions.Values.Where(s => s.UserId == userId && s.Role != role))
            {
                var updated = session with { Role = role };
                _sessions[session.Id] = updated;
                changed.Add(updated);
            }
        }
        finally
        {
            _writes.Release();
        }

        foreach (var session in changed)
        {
            Raise(RoleChanged, session);
        }
    }

    private async Task EndWhereAsync(Func<ConsoleSession, bool> match, Func<ConsoleDbContext, IQueryable<SessionRecord>> rows)
    {
        await _writes.WaitAsync();
        var ended = new List<ConsoleSession>();
        try
        {
            await using var db = await contexts.CreateDbContextAsync();
            await rows(db).ExecuteDeleteAsync();
            foreach (var session in _sessions.Values.Where(match))
            {
                if (_sessions.TryRemove(session.Id, out var removed))
                {
                    ended.Add(removed);
                }
            }
        }
        finally
        {
            _writes.Release();
        }

        foreach (var session in ended)
        {
            Raise(Ended, session);
        }
    }

    /// <summary>Tells every follower (hub connections, live pages); one that fails is logged and the others still hear it, and the change stands.</summary>
    private void Raise(Action<ConsoleSession>? handlers, ConsoleSession session)
    {
        foreach (var handler in handlers?.GetInvocationList().Cast<Action<ConsoleSession>>() ?? [])
        {
            try
            {
                handler(session);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                LogFollowerFailed(logger, session.UserName, ex);
            }
        }
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Error, Message = "A follower of {User}'s session failed to hear of its change")]
    private static partial void LogFollowerFailed(ILogger logger, string user, Exception exception);

    private static async Task<string> RoleOfAsync(ConsoleDbContext db, string userId, CancellationToken cancellationToken) =>
        await (from link in db.UserRoles
               join role in db.Roles on link.RoleId equals role.Id
               where link.UserId == userId
               select role.Name).FirstOrDefaultAsync(cancellationToken) ?? "";
}
