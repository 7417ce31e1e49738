using AngleSharp.Dom;
using Bunit;
using Microsoft.AspNetCore.Components;
using MudBlazor;

namespace VmConsole.Server.Tests.Components;

/// <summary>What a user does to MudBlazor inputs, found by their data-testid.</summary>
internal static class MudInputs
{
    /// <summary>Opens the MudSelect marked <paramref name="testId"/> and picks the item that reads <paramref name="text"/> from the popover provider.</summary>
    public static void Choose<T>(this IRenderedComponent<T> owner, IRenderedComponent<MudPopoverProvider> popovers, string testId, string text)
        where T : IComponent
    {
        owner.Find($"[data-testid='{testId}']").Closest("div.mud-input-control")!.MouseDown();
        popovers.WaitForAssertion(() => Assert.Contains(popovers.FindAll(".mud-list-item"), i => i.TextContent.Trim() == text));
        popovers.FindAll(".mud-list-item").First(i => i.TextContent.Trim() == text).Click();
        owner.WaitForAssertion(() => Assert.Equal(text, owner.Find($"[data-testid='{testId}']").TextContent.Trim()));
    }

    /// <summary>The inline error under the input marked <paramref name="testId"/>, or null when it shows none.</summary>
    public static string? ErrorOf<T>(this IRenderedComponent<T> owner, string testId)
        where T : IComponent =>
        owner.Find($"[data-testid='{testId}']").Closest("div.mud-input-control")!.QuerySelector(".mud-input-helper-text.mud-input-error")?.TextContent.Trim();

    public static bool IsDisabled(this IElement element) => element.HasAttribute("disabled");
}
