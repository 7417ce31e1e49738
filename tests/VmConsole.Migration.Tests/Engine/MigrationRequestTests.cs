using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>Acceptance point 8, the refusals: a request that cannot run is refused before anything is taken.</summary>
public sealed class MigrationRequestTests
{
    public static TheoryData<string, string, ErrorKind> BadRequests => new()
    {
        { "no destination", "destination-needed", ErrorKind.Invalid },
        { "unknown host", "host-not-found", ErrorKind.NotFound },
        { "same host", "same-host", ErrorKind.Conflict },
        { "exec:cat", "invalid-uri", ErrorKind.Invalid },
        { "tcp:10.0.0.1:4444", "invalid-uri", ErrorKind.Invalid },
        { "tcp:localhost:0", "invalid-uri", ErrorKind.Invalid },
        { "long unix path", "invalid-uri", ErrorKind.Invalid },
        { "unknown vm", "vm-not-found", ErrorKind.NotFound },
        { "prelaunch vm", "vm-not-running", ErrorKind.Conflict },
        { "shut-down vm", "vm-not-running", ErrorKind.Conflict },
        { "downtime limit 0", "invalid-parameter", ErrorKind.Invalid },
        { "multifd with xbzrle", "unsupported-capability", ErrorKind.Invalid },
        { "multifd over a file", "multifd-not-supported-by-protocol", ErrorKind.Invalid },
        { "postcopy", "unsupported-capability", ErrorKind.Invalid },
        { "host too small", "host-capacity", ErrorKind.Conflict },
        { "file with destination host", "file-with-destination-host", ErrorKind.Invalid },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task Start_BadRequest_IsRefusedWithItsCodeAndTakesNothing(string what, string code, ErrorKind kind)
    {
        await using var fixture = new EngineFixture();
        fixture.Emulator.AddHost("host-small", 8 * Sizes.MiB);
        var vm = fixture.CreateVm("vm1", 16, machine: "microvm");
        fixture.CreateVm("idle", 16, machine: "microvm", start: false);
        var down = fixture.CreateVm("down", 16, machine: "microvm");
        await down.ShutdownAsync();
        var file = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.mig");
        var request = new MigrationRequest("vm1") { DestinationHost = "host-b" };
        request = what switch
        {
            "no destination" => request with { DestinationHost = null },
            "unknown host" => request with { DestinationHost = "host-z" },
            "same host" => request with { DestinationHost = "host-a" },
            "exec:cat" or "tcp:10.0.0.1:4444" or "tcp:localhost:0" => request with { DestinationHost = null, Uri = what },
            "long unix path" => request with { DestinationHost = null, Uri = "unix:/tmp/" + new string('s', 120) },
            "unknown vm" => request with { Vm = "nope" },
            "prelaunch vm" => request with { Vm = "idle" },
            "shut-down vm" => request with { Vm = "down" },
            "downtime limit 0" => request with { Parameters = MigrationParameters.Default with { DowntimeLimit = 0 } },
            "multifd with xbzrle" => request with { Capabilities = MigrationCapabilities.Default with { Multifd = true, Xbzrle = true } },
            "multifd over a file" => request with { DestinationHost = null, Uri = "file:" + file, Capabilities = MigrationCapabilities.Default with { Multifd = true } },
            "postcopy" => request with { Capabilities = MigrationCapabilities.Default with { PostcopyRam = true } },
            "host too small" => request with { DestinationHost = "host-small" },
            "file with destination host" => request with { Uri = "file:" + file },
            _ => throw new ArgumentOutOfRangeException(nameof(what), what, null),
        };
        var hostB = fixture.Emulator.GetHost("host-b");
        var reservedB = hostB.ReservedBytes;

        var error = Assert.ThrowsAny<DomainException>(() => fixture.Engine.Start(request));

        Assert.Equal(code, error.Code);
        Assert.Equal(kind, error.Kind);
        Assert.Empty(fixture.Engine.Registry.All);
        Assert.All(fixture.Emulator.Vms, v => Assert.False(v.Freeze.IsFrozen, $"{v.Name} was left frozen"));
        Assert.Equal(reservedB, hostB.ReservedBytes);
        Assert.Equal(0, fixture.Emulator.GetHost("host-small").ReservedBytes);
        fixture.AssertNoIncoming();
        Assert.Equal(RunState.Running, vm.RunState);
        Assert.False(File.Exists(file), "a refused request created its stream file");

        // Nothing was taken: the same VM migrates right after.
        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b" });
        Assert.True(await EngineFixture.WaitFinishedAsync(migration) == MigrationStatus.Completed, EngineFixture.Describe(migration));
    }

    [Theory]
    [InlineData(true, null)]
    [InlineData(false, "host-b")]
    public async Task Start_PeerHostWithoutAUriOrWithADestinationHost_IsAProgrammingErrorAndTakesNothing(bool noUri, string? destinationHost)
    {
        await using var fixture = new EngineFixture();
        var vm = fixture.CreateVm("vm1", 16, machine: "microvm");
        var request = new MigrationRequest("vm1") { PeerHost = "qemu-a", DestinationHost = destinationHost, Uri = noUri ? null : "unix:/tmp/vmc-peer.sock" };

        Assert.Throws<ArgumentException>(() => fixture.Engine.Start(request));

        Assert.Empty(fixture.Engine.Registry.All);
        Assert.False(vm.Freeze.IsFrozen);
    }
}
