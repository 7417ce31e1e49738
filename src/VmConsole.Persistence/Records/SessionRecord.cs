namespace VmConsole.Persistence.Records;

/// <summary>
/// A signed-in session: its cookie names it, and it is valid only while this row exists. Sign-out deletes it;
/// a role change rewrites <see cref="Role"/>; a password change or the user's deletion deletes all of the user's.
/// </summary>
public sealed class SessionRecord
{
    /// <summary>Random, unguessable; the cookie's session claim.</summary>
    public required string Id { get; set; }

    public required string UserId { get; set; }

    public required string UserName { get; set; }

    /// <summary>The user's role now (not when signed in): requests are authorized with it.</summary>
    public required string Role { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    /// <summary>When the session ends on its own, however active it is.</summary>
    public DateTimeOffset ExpiresAt { get; set; }
}
