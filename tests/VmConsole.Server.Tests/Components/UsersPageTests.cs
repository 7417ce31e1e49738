using Microsoft.Extensions.DependencyInjection;
using Bunit;
using MudBlazor;
using VmConsole.Server.Accounts;
using VmConsole.Server.Components.Pages;

namespace VmConsole.Server.Tests.Components;

public sealed class UsersPageTests : PersistedConsoleContext
{
    private IRenderedComponent<MudPopoverProvider> _popovers = null!;
    private IRenderedComponent<MudDialogProvider> _dialogs = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await AddUserAsync("admin", Roles.Admin);
        await AddUserAsync("olga", Roles.Operator);
    }

    [Fact]
    public void UsersPage_TwoAccounts_ListsEachWithItsRole()
    {
        var cut = RenderPage();

        Assert.Equal(["admin", "olga"], cut.FindAll("[data-user]").Select(e => e.GetAttribute("data-user")));
        Assert.Equal(Roles.Admin, RoleShown(cut, "admin"));
        Assert.Equal(Roles.Operator, RoleShown(cut, "olga"));
        Assert.Contains("you", Row(cut, "admin").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UsersPage_AddUserWithShortPassword_ShowsThePasswordRuleAndCreatesNothing()
    {
        var cut = RenderPage();
        OpenAddUser(cut);

        _dialogs.Find("[data-testid='user-name']").Input("newbie");
        _dialogs.Find("[data-testid='user-password']").Input("short");
        _dialogs.Find("[data-testid='add-user-submit']").Click();

        _dialogs.WaitForAssertion(() => Assert.Contains("at least 8 characters", _dialogs.Find("[data-testid='add-user-error']").TextContent, StringComparison.Ordinal));
        Assert.DoesNotContain(await UsersAsync(), u => u.UserName == "newbie");
        Assert.Empty(cut.FindAll("[data-user='newbie']"));
    }

    [Fact]
    public async Task UsersPage_AddValidUser_ListsItWithTheChosenRole()
    {
        var cut = RenderPage();
        OpenAddUser(cut);

        _dialogs.Find("[data-testid='user-name']").Input("newbie");
        _dialogs.Find("[data-testid='user-password']").Input("Long-enough-2");
        _dialogs.Choose(_popovers, "user-new-role", Roles.Operator);
        _dialogs.Find("[data-testid='add-user-submit']").Click();

        cut.WaitForAssertion(() => Assert.Equal(Roles.Operator, RoleShown(cut, "newbie")));
        Assert.Contains(await UsersAsync(), u => u is { UserName: "newbie", Role: Roles.Operator });
        Assert.Empty(_dialogs.FindAll("[data-testid='add-user-dialog']"));
    }

    [Fact]
    public async Task UsersPage_TakeAdminFromTheOnlyAdmin_IsRefusedAndSaysWhy()
    {
        var cut = RenderPage();

        ChooseRole(cut, "admin", Roles.Viewer);

        cut.WaitForAssertion(() => Assert.Contains("Cannot take the Admin role from 'admin': it is the only admin.", cut.Find("[data-testid='users-error']").TextContent, StringComparison.Ordinal));
        Assert.Contains(await UsersAsync(), u => u is { UserName: "admin", Role: Roles.Admin });
    }

    [Fact]
    public void UsersPage_RoleChangeRefused_ShowsTheRoleKept()
    {
        var cut = RenderPage();

        ChooseRole(cut, "admin", Roles.Viewer);

        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-testid='users-error']")));
        cut.WaitForAssertion(() => Assert.Equal(Roles.Admin, RoleShown(cut, "admin")));
    }

    [Fact]
    public async Task UsersPage_DeleteYourself_IsRefusedAndSaysWhy()
    {
        await AddUserAsync("second-admin", Roles.Admin);
        var cut = RenderPage();

        Row(cut, "admin").QuerySelector("[data-action='delete-user']")!.Click();
        _dialogs.WaitForAssertion(() => Assert.Contains(_dialogs.FindAll("button"), b => b.TextContent.Trim() == "Delete"));
        _dialogs.FindAll("button").First(b => b.TextContent.Trim() == "Delete").Click();

        cut.WaitForAssertion(() => Assert.Contains("You cannot delete the account you are signed in with.", cut.Find("[data-testid='users-error']").TextContent, StringComparison.Ordinal));
        Assert.Contains(await UsersAsync(), u => u.UserName == "admin");
    }

    [Fact]
    public async Task UsersPage_AdminResetsAnotherUsersPassword_ItChangesAndIsLogged()
    {
        var cut = RenderPage();

        Row(cut, "olga").QuerySelector("[data-action='set-password']")!.Click();
        _dialogs.WaitForAssertion(() => _dialogs.Find("[data-testid='set-password-submit']"));
        Assert.Empty(_dialogs.FindAll("[data-testid='current-password']"));
        _dialogs.Find("[data-testid='new-password']").Input("Olga-New-Password-2");
        _dialogs.Find("[data-testid='confirm-password']").Input("Olga-New-Password-2");
        _dialogs.Find("[data-testid='set-password-submit']").Click();

        _dialogs.WaitForAssertion(() => Assert.Empty(_dialogs.FindAll("[data-testid='set-password-dialog']")));
        await using var scope = Services.CreateAsyncScope();
        var users = scope.ServiceProvider.GetRequiredService<Microsoft.AspNetCore.Identity.UserManager<Microsoft.AspNetCore.Identity.IdentityUser>>();
        Assert.True(await users.CheckPasswordAsync((await users.FindByNameAsync("olga"))!, "Olga-New-Password-2"));
        Assert.Contains(ActionLog.Lines, l => l == ("admin", "Reset the password of olga", "olga", null, null));
    }

    private IRenderedComponent<UsersPage> RenderPage()
    {
        _popovers = RenderProviders();
        _dialogs = Render<MudDialogProvider>();
        var cut = Render<UsersPage>();
        cut.WaitForAssertion(() => Assert.NotEmpty(cut.FindAll("[data-user]")));
        return cut;
    }

    private void OpenAddUser(IRenderedComponent<UsersPage> cut)
    {
        cut.Find("[data-testid='add-user']").Click();
        _dialogs.WaitForAssertion(() => _dialogs.Find("[data-testid='add-user-submit']"));
    }

    private void ChooseRole(IRenderedComponent<UsersPage> cut, string user, string role)
    {
        Row(cut, user).QuerySelector("[data-testid='user-role']")!.Closest("div.mud-input-control")!.MouseDown();
        _popovers.WaitForAssertion(() => Assert.Contains(_popovers.FindAll(".mud-list-item"), i => i.TextContent.Trim() == role));
        _popovers.FindAll(".mud-list-item").First(i => i.TextContent.Trim() == role).Click();
    }

    private static AngleSharp.Dom.IElement Row(IRenderedComponent<UsersPage> cut, string user) => cut.Find($"[data-user='{user}']").Closest("tr")!;

    private static string RoleShown(IRenderedComponent<UsersPage> cut, string user) =>
        Row(cut, user).QuerySelector("[data-testid='user-role']")!.TextContent.Trim();
}
