using VmConsole.Emulation;

namespace VmConsole.Server.Domain;

public static class EmulatorSetup
{
    /// <summary>The in-process emulator core, its options (with the demo seed) and the dirty-rate sampler.</summary>
    public static IHostApplicationBuilder AddEmulator(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<EmulatorOptions>()
            .BindConfiguration(EmulatorOptions.Section)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(sp => new Emulator(sp.GetRequiredService<TimeProvider>())
        {
            TeardownTimeout = sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<EmulatorOptions>>().Value.TeardownTimeout,
        });
        builder.Services.AddSingleton<DirtyRateSampler>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DirtyRateSampler>());
        return builder;
    }
}
