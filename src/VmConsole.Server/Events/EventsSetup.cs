namespace VmConsole.Server.Events;

public static class EventsSetup
{
    /// <summary>The one event path (its readers register as <see cref="IConsoleEventSink"/>) and the one action log.</summary>
    public static IHostApplicationBuilder AddConsoleEvents(this IHostApplicationBuilder builder)
    {
        // Hosted services stop in reverse order: the action log's last lines are published before the path stops.
        builder.Services.AddSingleton<ConsoleEventBus>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ConsoleEventBus>());
        builder.Services.AddSingleton<ActionLog>();
        builder.Services.AddSingleton<IActionLog>(sp => sp.GetRequiredService<ActionLog>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ActionLog>());
        return builder;
    }
}
