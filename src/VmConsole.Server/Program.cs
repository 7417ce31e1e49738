using MudBlazor.Services;
using VmConsole.Server;
using VmConsole.Server.Accounts;
using VmConsole.Server.Api;
using VmConsole.Server.Components;
using VmConsole.Server.Domain;
using VmConsole.Server.Events;
using VmConsole.Server.Hubs;
using VmConsole.Server.Recording;

var builder = WebApplication.CreateBuilder(new WebApplicationOptions
{
    Args = args,
    ContentRootPath = ContentRoot.Resolve(args),
});

// Package assets (MudBlazor, the Blazor script) come from the build's static web assets manifest in every environment.
builder.WebHost.UseStaticWebAssets();

builder.AddEmulator();
builder.AddQemuDriver();
builder.AddMigration();
builder.AddConsolePersistence();
builder.AddConsoleEvents();
builder.AddConsoleAccounts();
builder.AddConsoleApi();
builder.AddConsoleHub();
builder.Services.AddRazorComponents().AddInteractiveServerComponents();
// Messages at the bottom right, where they cover no action buttons.
builder.Services.AddMudServices(mud => mud.SnackbarConfiguration.PositionClass = MudBlazor.Defaults.Classes.Position.BottomRight);
builder.Services.AddScoped<ConsoleActions>();
builder.Services.AddScoped<UserDirectory>();

var app = builder.Build();

ConsoleLog.Roots(app.Logger, app.Environment.ContentRootPath, app.Environment.WebRootPath);
app.UseWhen(context => context.Request.Path.StartsWithSegments("/api"), api => api.UseExceptionHandler());
app.UseWhen(context => !context.Request.Path.StartsWithSegments("/api"), pages => pages.UseExceptionHandler("/error", createScopeForErrors: true));

app.UseWhen(context => !context.Request.Path.StartsWithSegments("/api"), pages => pages.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true));
// The repository's wwwroot (app.css, reconnect.js) is served here, before routing: with routing first, the endpoint
// MapStaticAssets keeps for files missing from its build manifest served them instead, with a warning per request.
app.UseStaticFiles();
app.UseRouting();
app.UseAuthentication();
// After authentication (a signed-in user is not limited), before authorization (a flood never reaches the audit at the door).
app.UseRateLimiter();
app.UseAuthorization();
app.UseAntiforgery();
app.UseJsonBodyCheck();
app.MapStaticAssets();
app.MapConsoleApi();
app.MapAccountForms();
app.MapHub<ConsoleHub>(ConsoleHub.Path);
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();

app.Run();

/// <summary>The entry point, visible to WebApplicationFactory.</summary>
public partial class Program;
