using Microsoft.Extensions.Options;
using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Qemu.Driver;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Server.Domain;

public static class QemuSetup
{
    /// <summary>
    /// The QEMU driver (its hosts from the "Qemu" section, under the content root's runtime directory) and the one
    /// inventory in front of both drivers; <see cref="QemuStartup"/> finds running QEMU VMs again and seeds.
    /// </summary>
    public static IHostApplicationBuilder AddQemuDriver(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<QemuOptions>()
            .BindConfiguration(QemuOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<QemuOptions>>().Value;
            var root = Path.GetFullPath(options.RuntimeDirectory, sp.GetRequiredService<IHostEnvironment>().ContentRootPath);
            return new QemuDriver(
                options.Hosts.Select(h => new QemuHostConfig(h.Name, h.MemoryGiB * GiB, options.Binary, Path.Combine(root, h.Name))),
                options.TeardownTimeout);
        });
        builder.Services.AddSingleton(sp => new VmInventory([sp.GetRequiredService<Emulator>(), sp.GetRequiredService<QemuDriver>()]));
        builder.Services.AddSingleton(sp => new CrossDriverMigrations(sp.GetRequiredService<Emulator>(), sp.GetRequiredService<VmConsole.Migration.Engine.MigrationEngine>(), sp.GetRequiredService<QemuDriver>()));
        builder.Services.AddSingleton<MigrationStarter>();
        builder.Services.AddHostedService<QemuStartup>();
        builder.Services.AddHostedService<QemuDirtyRateMonitor>();
        return builder;
    }
}
