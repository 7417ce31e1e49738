using System.Buffers.Binary;
using System.Text;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Qemu;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>QEMU's globalstate section: read when a VM arrives, written with the VM's own run state when it goes back.</summary>
public sealed class QemuGlobalStateTests
{
    private const string Description = """{"name":"globalstate","instance_id":0,"vmsd_name":"globalstate","version":1,"fields":[]}""";

    [Theory]
    [InlineData("running", true)]
    [InlineData("paused", false)]
    [InlineData("guest-panicked", false)]
    public void ArrivesRunning_GlobalState_OnlyWhenItSaysRunning(string runState, bool running)
    {
        var state = With(GlobalState(runState));

        Assert.Equal(runState, QemuGlobalState.RunStateOf(state));
        Assert.Equal(running, QemuGlobalState.ArrivesRunning(state));
    }

    [Fact]
    public void ArrivesRunning_NoDeviceStateOrNoGlobalState_Runs()
    {
        Assert.True(QemuGlobalState.ArrivesRunning(null));
        Assert.True(QemuGlobalState.ArrivesRunning(new DeviceState([Timer()], "{}")));
    }

    [Theory]
    [InlineData("running", false, "paused")]
    [InlineData("paused", true, "running")]
    public void WithRunState_OtherState_RewritesGlobalStateOnlyAndKeepsOrder(string kept, bool running, string written)
    {
        var state = new DeviceState([Timer(), Section(GlobalState(kept)), Timer(instance: 1)], """{"page_size":4096}""");

        var sent = QemuGlobalState.WithRunState(state, running)!;

        Assert.Equal(written, QemuGlobalState.RunStateOf(sent));
        Assert.Equal(GlobalState(written), sent.Sections[1].State.ToArray());
        Assert.Equal(state.Sections.Select(s => (s.IdStr, s.InstanceId)), sent.Sections.Select(s => (s.IdStr, s.InstanceId)));
        Assert.Equal(state.Sections[0].State.ToArray(), sent.Sections[0].State.ToArray());
        Assert.Equal(state.Sections[2].State.ToArray(), sent.Sections[2].State.ToArray());
        Assert.Equal(state.DescriptionFields, sent.DescriptionFields);
    }

    [Fact]
    public void WithRunState_SameState_SameObject()
    {
        var state = With(GlobalState("paused"));

        Assert.Same(state, QemuGlobalState.WithRunState(state, running: false));
    }

    /// <summary>QEMU 7.2's bytes: be32 size (the name and its NUL), then the name in a 100-byte buffer.</summary>
    private static byte[] GlobalState(string runState)
    {
        var bytes = new byte[104];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)runState.Length + 1);
        Encoding.ASCII.GetBytes(runState).CopyTo(bytes, 4);
        return bytes;
    }

    private static DeviceState With(byte[] globalState) => new([Section(globalState)], "{}");

    private static DeviceSection Section(byte[] globalState) => new(QemuGlobalState.IdStr, 0, 1, globalState, Description);

    private static DeviceSection Timer(uint instance = 0) =>
        new("timer", instance, 2, new byte[] { 1, 2, 3 }, """{"name":"timer","instance_id":0,"vmsd_name":"timer","version":2,"fields":[]}""");
}
