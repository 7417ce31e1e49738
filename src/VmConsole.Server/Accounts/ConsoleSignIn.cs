using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Identity;

namespace VmConsole.Server.Accounts;

/// <summary>
/// Sign-in and sign-out for the API and the sign-in form alike: the throttle first, then the password (an
/// unknown user costs the same hash check as a known one), then a server-side session whose id the cookie
/// carries. Signing out ends that session, so a copy of the cookie is worth nothing afterwards.
/// </summary>
public sealed class ConsoleSignIn(
    UserManager<IdentityUser> users, SignInManager<IdentityUser> signIn, SessionRegistry sessions, SignInThrottle throttle, IPasswordHasher<IdentityUser> hasher)
{
    // A hash to check the password of an unknown user against, so that answering takes as long as for a known one.
    private static readonly Lazy<string> UnknownUserHash = new(() => new PasswordHasher<IdentityUser>().HashPassword(new IdentityUser("unknown"), Guid.NewGuid().ToString()));

    public static string ClientAddress(HttpContext http) => http.Connection.RemoteIpAddress?.ToString() ?? "unknown";

    public async Task<SignInAttempt> SignInAsync(HttpContext http, string userName, string password)
    {
        var address = ClientAddress(http);
        var wait = throttle.WaitBeforeTry(address, userName);
        if (wait > TimeSpan.Zero)
        {
            return new SignInAttempt(SignInOutcome.Throttled, wait);
        }

        var user = await users.FindByNameAsync(userName);
        if (user is null)
        {
            hasher.VerifyHashedPassword(new IdentityUser(userName), UnknownUserHash.Value, password);
        }

        if (user is null || !await users.CheckPasswordAsync(user, password))
        {
            throttle.Failed(address, userName);
            return new SignInAttempt(SignInOutcome.Invalid);
        }

        var session = await sessions.BeginAsync(user.Id, user.SecurityStamp);
        if (session is null)
        {
            // The user was deleted or the password changed between the check and now.
            throttle.Failed(address, userName);
            return new SignInAttempt(SignInOutcome.Invalid);
        }

        throttle.Succeeded(address, userName);
        var principal = await signIn.CreateUserPrincipalAsync(user);
        principal.Identities.First().AddClaim(new Claim(SessionRegistry.ClaimType, session.Id));
        await http.SignInAsync(IdentityConstants.ApplicationScheme, principal, new AuthenticationProperties { IsPersistent = false });
        // The rest of this request (its audit line) is the signed-in user's.
        http.User = principal;
        return new SignInAttempt(SignInOutcome.SignedIn, UserName: session.UserName, Role: session.Role);
    }

    /// <summary>Ends the caller's session (its cookie is refused from now on, wherever a copy of it is) and clears the cookie.</summary>
    public async Task SignOutAsync(HttpContext http)
    {
        if (http.User.FindFirstValue(SessionRegistry.ClaimType) is { } id)
        {
            await sessions.EndAsync(id);
        }

        await signIn.SignOutAsync();
    }
}
