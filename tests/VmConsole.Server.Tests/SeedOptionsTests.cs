using Microsoft.Extensions.Options;
using VmConsole.Server.Domain;

namespace VmConsole.Server.Tests;

/// <summary>A bad seed in the "Emulator:Seed" section stops the start with a message that names the bad setting.</summary>
public sealed class SeedOptionsTests
{
    [Theory]
    [InlineData("Emulator:Seed:Vms:0:MemoryMiB", "-5", "'EmulatorOptions.Seed.Vms[0]' members: 'MemoryMiB'")]
    [InlineData("Emulator:Seed:Hosts:1:MemoryGiB", "0", "'EmulatorOptions.Seed.Hosts[1]' members: 'MemoryGiB'")]
    [InlineData("Emulator:Seed:Vms:1:Backends:0:Id", "", "'EmulatorOptions.Seed.Vms[1].Backends[0]' members: 'Id'")]
    [InlineData("Emulator:Seed:Vms:0:Host", "host-z", "'EmulatorOptions.Seed' members: 'Vms[0].Host'")]
    public async Task Start_BadSeedSetting_FailsNamingIt(string key, string value, string named)
    {
        await using var factory = new ConsoleFactory(settings: new Dictionary<string, string?> { [key] = value });

        var error = Record.Exception(() => factory.CreateClient());

        var invalid = Assert.IsType<OptionsValidationException>(error is AggregateException { InnerExceptions: [var only] } ? only : error);
        Assert.Equal(typeof(EmulatorOptions), invalid.OptionsType);
        Assert.True(invalid.Message.Contains(named, StringComparison.Ordinal), invalid.Message);
    }

    [Fact]
    public async Task Start_VmOnUnknownHost_MessageSaysWhichVmAndHost()
    {
        await using var factory = new ConsoleFactory(settings: new Dictionary<string, string?> { ["Emulator:Seed:Vms:2:Host"] = "host-z" });

        var invalid = Assert.IsType<OptionsValidationException>(Record.Exception(() => factory.CreateClient()));

        Assert.Contains("The VM 'tiny-1' is seeded on host 'host-z', which is not one of the seeded hosts.", invalid.Message, StringComparison.Ordinal);
    }
}
