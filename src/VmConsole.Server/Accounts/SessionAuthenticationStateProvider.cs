using System.Security.Claims;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;

namespace VmConsole.Server.Accounts;

/// <summary>
/// A live page's user follows its session: when the session ends (signed out elsewhere, password changed,
/// user deleted) the page is signed out at once and goes to the sign-in page; when the user's role changes,
/// the page shows and allows what the new role may. A minute's revalidation catches a session that expired.
/// </summary>
public sealed class SessionAuthenticationStateProvider : RevalidatingServerAuthenticationStateProvider
{
    private static readonly Task<AuthenticationState> SignedOut = Task.FromResult(new AuthenticationState(new ClaimsPrincipal(new ClaimsIdentity())));
    private readonly SessionRegistry _sessions;

    public SessionAuthenticationStateProvider(ILoggerFactory loggerFactory, SessionRegistry sessions)
        : base(loggerFactory)
    {
        _sessions = sessions;
        _sessions.Ended += OnEnded;
        _sessions.RoleChanged += OnRoleChanged;
    }

    protected override TimeSpan RevalidationInterval => TimeSpan.FromMinutes(1);

    /// <summary><paramref name="principal"/> authorized as <paramref name="role"/>, or null when it already is (only that role).</summary>
    public static ClaimsPrincipal? WithRole(ClaimsPrincipal principal, string role)
    {
        if (principal.Identity is not ClaimsIdentity identity)
        {
            return null;
        }

        var roles = identity.FindAll(identity.RoleClaimType).ToList();
        if (roles.Count == 1 && roles[0].Value == role)
        {
            return null;
        }

        var updated = identity.Clone();
        foreach (var claim in updated.FindAll(updated.RoleClaimType).ToList())
        {
            updated.RemoveClaim(claim);
        }

        if (role.Length > 0)
        {
            updated.AddClaim(new Claim(updated.RoleClaimType, role));
        }

        return new ClaimsPrincipal(updated);
    }

    protected override Task<bool> ValidateAuthenticationStateAsync(AuthenticationState authenticationState, CancellationToken cancellationToken) =>
        Task.FromResult(_sessions.TryGet(SessionOf(authenticationState.User), out _));

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sessions.Ended -= OnEnded;
            _sessions.RoleChanged -= OnRoleChanged;
        }

        base.Dispose(disposing);
    }

    private static string? SessionOf(ClaimsPrincipal user) => user.FindFirst(SessionRegistry.ClaimType)?.Value;

    private void OnEnded(ConsoleSession session) => Follow(session, _ => SignedOut);

    private void OnRoleChanged(ConsoleSession session) =>
        Follow(session, user => WithRole(user, session.Role) is { } updated ? Task.FromResult(new AuthenticationState(updated)) : null);

    /// <summary>Raised on the thread that changed the session: a provider of no live page (no state yet) has nothing to follow.</summary>
    private void Follow(ConsoleSession session, Func<ClaimsPrincipal, Task<AuthenticationState>?> next)
    {
        Task<AuthenticationState> current;
        try
        {
            current = GetAuthenticationStateAsync();
        }
        catch (InvalidOperationException)
        {
            return;
        }

        if (current.IsCompletedSuccessfully && SessionOf(current.Result.User) == session.Id && next(current.Result.User) is { } state)
        {
            SetAuthenticationState(state);
        }
    }
}
