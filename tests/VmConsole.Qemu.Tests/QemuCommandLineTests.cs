using VmConsole.Emulation;
using VmConsole.Qemu.Processes;

namespace VmConsole.Qemu.Tests;

public sealed class QemuCommandLineTests
{
    private static readonly QemuVmSpec Q35 = new("db-1", "q35", 512 * Sizes.MiB)
    {
        Slots = 2,
        MaxMemBytes = Sizes.GiB,
        Backends = [new QemuMemoryBackend("mem1", 128 * Sizes.MiB, "dimm1"), new QemuMemoryBackend("spare", 32 * Sizes.MiB)],
    };

    [Fact]
    public void Build_Q35WithBackends_EveryArgumentInItsOwnItem()
    {
        var args = QemuCommandLine.Build(Q35, "/run/vmconsole/db-1");

        Assert.Equal(
            [
                "-name", "db-1", "-M", "q35", "-m", "512M,slots=2,maxmem=1024M",
                "-object", "memory-backend-ram,id=mem1,size=128M", "-object", "memory-backend-ram,id=spare,size=32M",
                "-device", "pc-dimm,id=dimm1,memdev=mem1",
                "-nodefaults", "-display", "none",
                "-qmp", "unix:/run/vmconsole/db-1/qmp.sock,server=on,wait=off",
                "-daemonize", "-pidfile", "/run/vmconsole/db-1/qemu.pid",
            ],
            args);
    }

    [Fact]
    public void Build_Paused_StartsStopped()
    {
        Assert.Contains("-S", QemuCommandLine.Build(Q35 with { Paused = true }, "/tmp/x"));
        Assert.DoesNotContain("-S", QemuCommandLine.Build(Q35, "/tmp/x"));
    }

    public static TheoryData<string, QemuVmSpec, string> Refused => new()
    {
        { "name with a comma", Q35 with { Name = "db-1,process=evil" }, ErrorCodes.InvalidName },
        { "unknown machine", Q35 with { Machine = "isapc" }, ErrorCodes.InvalidMachine },
        { "memory not in MiB", Q35 with { MemoryBytes = Sizes.MiB + 1 }, ErrorCodes.InvalidMemorySize },
        { "maxmem below memory", Q35 with { MaxMemBytes = 256 * Sizes.MiB }, ErrorCodes.InvalidSlots },
        { "backend id with a comma", Q35 with { Backends = [new QemuMemoryBackend("m,share=on", 32 * Sizes.MiB)] }, ErrorCodes.InvalidId },
        { "duplicate id", Q35 with { Backends = [new QemuMemoryBackend("m", 32 * Sizes.MiB), new QemuMemoryBackend("m", 32 * Sizes.MiB)] }, ErrorCodes.BackendExists },
        { "dimms beyond maxmem", Q35 with { Backends = [new QemuMemoryBackend("m", Sizes.GiB, "d")] }, ErrorCodes.NoFreeSlot },
        { "dimm on microvm", new QemuVmSpec("t", "microvm", 16 * Sizes.MiB) { Backends = [new QemuMemoryBackend("m", 32 * Sizes.MiB, "d")] }, ErrorCodes.HotplugUnsupported },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Build_InvalidSpec_RefusedBeforeAnyArgument(string what, QemuVmSpec spec, string code)
    {
        var refused = Assert.Throws<DomainException>(() => QemuCommandLine.Build(spec, "/tmp/x"));
        Assert.True(refused.Code == code, $"{what}: {refused.Code} ({refused.Message})");
    }
}
