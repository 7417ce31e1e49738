using System.Text.RegularExpressions;
using static Microsoft.Playwright.Assertions;

namespace VmConsole.EndToEnd.Tests;

public sealed class SignInTests(ConsoleInBrowser console) : IClassFixture<ConsoleInBrowser>
{
    [Fact]
    public async Task SignIn_WrongPasswordThenRight_ShowsTheErrorThenLandsWhereTheUserWasHeaded()
    {
        var page = await console.NewAnonymousPageAsync();

        await page.GotoAsync("/vms/tiny-1");
        await Expect(page).ToHaveURLAsync(new Regex("/login\\?"));
        await page.Locator("input[name='userName']").FillAsync("admin");
        await page.Locator("input[name='password']").FillAsync("wrong-password");
        await page.Locator("[data-testid='signin-form'] button[type='submit']").ClickAsync();
        await Expect(page.Locator("[data-testid='signin-error']")).ToContainTextAsync("user name or password is wrong");
        await ConsoleInBrowser.ScreenshotAsync(page, "signin-error.png");

        await page.Locator("input[name='userName']").FillAsync("admin");
        await page.Locator("input[name='password']").FillAsync(ConsoleInBrowser.AdminPassword);
        await page.Locator("[data-testid='signin-form'] button[type='submit']").ClickAsync();

        await Expect(page).ToHaveURLAsync(new Regex("/vms/tiny-1$"));
        await Expect(page.Locator("[data-testid='signed-in-user']")).ToContainTextAsync("admin · Admin");

        // The sign-out ends the session, so the live page may itself go to the sign-in page (with where it was) before the form's redirect does.
        await page.Locator("[data-testid='sign-out']").ClickAsync();
        await Expect(page).ToHaveURLAsync(new Regex("/login(\\?returnUrl=[^&]*)?$"));
        await Expect(page.Locator("[data-testid='signin-form']")).ToBeVisibleAsync();
    }
}
