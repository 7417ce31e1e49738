using VmConsole.Persistence;

namespace VmConsole.Server.Recording;

public static class ServerPersistenceSetup
{
    /// <summary>
    /// SQLite at <c>ConnectionStrings:VmConsole</c> (a relative file is under the content root), the startup that
    /// migrates and then seeds or restores, the writer queue, and the recorder. Registered before the hub and the
    /// sampler so that the inventory exists when they start.
    /// </summary>
    public static IHostApplicationBuilder AddConsolePersistence(this IHostApplicationBuilder builder)
    {
        var configured = builder.Configuration.GetConnectionString("VmConsole")
            ?? throw new InvalidOperationException("ConnectionStrings:VmConsole is not set (appsettings.json has the default).");
        builder.Services.AddConsolePersistence(PersistenceSetup.ResolveSqliteFile(configured, builder.Environment.ContentRootPath));
        builder.Services.AddHostedService<ConsoleStartup>();
        builder.Services.AddSingleton<ConsoleStore>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ConsoleStore>());
        builder.Services.AddSingleton<MigrationHistory>();
        builder.Services.AddSingleton<ConsoleRecorder>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ConsoleRecorder>());
        builder.Services.AddSingleton<Events.IConsoleEventSink>(sp => sp.GetRequiredService<ConsoleRecorder>());
        builder.Services.AddSingleton<Domain.MigrationTaskLog>();
        builder.Services.AddSingleton<Events.IConsoleEventSink>(sp => sp.GetRequiredService<Domain.MigrationTaskLog>());
        return builder;
    }
}
