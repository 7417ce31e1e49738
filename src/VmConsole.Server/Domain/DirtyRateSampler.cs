using Microsoft.Extensions.Options;
using VmConsole.Emulation;

namespace VmConsole.Server.Domain;

/// <summary>Samples every block's dirty pages per second on a fixed interval and tells the live views.</summary>
public sealed class DirtyRateSampler(Emulator emulator, IOptions<EmulatorOptions> options, TimeProvider time) : BackgroundService
{
    /// <summary>Raised after each sample, on the sampler's thread.</summary>
    public event Action? Sampled;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.DirtyRateInterval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            emulator.SampleDirtyRates();
            Sampled?.Invoke();
        }
    }
}
