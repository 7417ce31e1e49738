using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Model;

namespace VmConsole.Server.Domain;

public static class MigrationSetup
{
    /// <summary>The migration engine over the in-process emulator; disposing it cancels running migrations.</summary>
    public static IHostApplicationBuilder AddMigration(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<MigrationRegistry>();
        builder.Services.AddSingleton(sp => new MigrationEngine(sp.GetRequiredService<Emulator>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<MigrationRegistry>()));
        builder.Services.AddSingleton(sp => new VmConsole.Migration.Qemu.QemuStreamImport(sp.GetRequiredService<Emulator>(), sp.GetRequiredService<TimeProvider>()));
        return builder;
    }
}
