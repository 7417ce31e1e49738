namespace VmConsole.Server.Hubs;

public static class HubSetup
{
    public static IHostApplicationBuilder AddConsoleHub(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSignalR();
        builder.Services.AddSingleton<HubSubscriptions>();
        builder.Services.AddSingleton<HubSessions>();
        builder.Services.AddSingleton<ConsoleEventForwarder>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ConsoleEventForwarder>());
        return builder;
    }
}
