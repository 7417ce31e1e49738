using VmConsole.Server.Events;

namespace VmConsole.Server.Hubs;

public static class HubSetup
{
    public static IHostApplicationBuilder AddConsoleHub(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSignalR();
        builder.Services.AddSingleton<HubSubscriptions>();
        builder.Services.AddSingleton<HubSessions>();
        builder.Services.AddSingleton<IConsoleEventSink, HubEventSender>();
        return builder;
    }
}
