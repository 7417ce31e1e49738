using Bunit;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.DependencyInjection;
using MudBlazor;
using VmConsole.Server.Accounts;
using VmConsole.Server.Components.Shared;

namespace VmConsole.Server.Tests.Components;

/// <summary>Changing your own password from the user menu: the current password first, the new one twice.</summary>
public sealed class ChangePasswordDialogTests : PersistedConsoleContext
{
    private const string Current = "Long-enough-1";
    private const string Next = "Brand-New-Password-2";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await AddUserAsync("admin", Roles.Admin);
    }

    [Fact]
    public async Task ChangePassword_WrongCurrentPassword_SaysSoAtTheFieldAndChangesNothing()
    {
        var dialogs = await OpenAsync();

        dialogs.Find("[data-testid='current-password']").Input("not-my-password");
        dialogs.Find("[data-testid='new-password']").Input(Next);
        dialogs.Find("[data-testid='confirm-password']").Input(Next);
        dialogs.Find("[data-testid='set-password-submit']").Click();

        dialogs.WaitForAssertion(() => Assert.Equal("This is not your current password.", dialogs.ErrorOf("current-password")));
        Assert.True(await PasswordIsAsync(Current));
        Assert.False(await PasswordIsAsync(Next));
        Assert.Contains(ActionLog.Lines, l => l is { User: "admin", Action: "Changed own password", Code: "wrong-current-password" });
    }

    [Fact]
    public async Task ChangePassword_ConfirmationDiffers_CannotBeSubmitted()
    {
        var dialogs = await OpenAsync();

        dialogs.Find("[data-testid='current-password']").Input(Current);
        dialogs.Find("[data-testid='new-password']").Input(Next);
        dialogs.Find("[data-testid='confirm-password']").Input(Next + "x");

        Assert.Equal("The two new passwords differ.", dialogs.ErrorOf("confirm-password"));
        Assert.True(dialogs.Find("[data-testid='set-password-submit']").IsDisabled());
    }

    [Fact]
    public async Task ChangePassword_RightCurrentPassword_ChangesItAndLogsIt()
    {
        var dialogs = await OpenAsync();

        dialogs.Find("[data-testid='current-password']").Input(Current);
        dialogs.Find("[data-testid='new-password']").Input(Next);
        dialogs.Find("[data-testid='confirm-password']").Input(Next);
        dialogs.Find("[data-testid='set-password-submit']").Click();

        dialogs.WaitForAssertion(() => Assert.Empty(dialogs.FindAll("[data-testid='set-password-dialog']")));
        Assert.True(await PasswordIsAsync(Next));
        Assert.Contains(ActionLog.Lines, l => l == ("admin", "Changed own password", "admin", null, null));
    }

    private async Task<IRenderedComponent<MudDialogProvider>> OpenAsync()
    {
        RenderProviders();
        var dialogs = Render<MudDialogProvider>();
        var parameters = new DialogParameters<SetPasswordDialog> { { d => d.UserName, "admin" }, { d => d.Own, true } };
        await dialogs.InvokeAsync(() => Services.GetRequiredService<IDialogService>().ShowAsync<SetPasswordDialog>("Change your password", parameters));
        dialogs.WaitForAssertion(() => dialogs.Find("[data-testid='set-password-submit']"));
        return dialogs;
    }

    private async Task<bool> PasswordIsAsync(string password)
    {
        await using var scope = Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<UserManager<IdentityUser>>();
        return await users.CheckPasswordAsync((await users.FindByNameAsync("admin"))!, password);
    }
}
