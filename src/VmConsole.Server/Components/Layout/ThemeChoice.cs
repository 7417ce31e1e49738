namespace VmConsole.Server.Components.Layout;

/// <summary>
/// The operator's light or dark choice, remembered in a cookie. App.razor reads it while it renders the page, so the
/// first HTML already has the chosen theme (no flash on reload); the layout writes it when the operator switches.
/// </summary>
/// <param name="Dark">True for dark, false for light; null when the operator has not chosen (the browser's preference then).</param>
public sealed record ThemeChoice(bool? Dark)
{
    public const string CookieName = "vmc-theme";

    /// <summary>The choice a cookie value holds; anything but "dark" or "light" is no choice.</summary>
    public static ThemeChoice FromCookie(string? value) => new(value switch
    {
        "dark" => true,
        "light" => false,
        _ => null,
    });

    /// <summary>The cookie value for a choice.</summary>
    public static string CookieValue(bool dark) => dark ? "dark" : "light";
}
