using System.Text.Json.Nodes;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Qemu;
using VmConsole.Migration.Wire;
using static VmConsole.Migration.Tests.Qemu.QemuImportErrorTests;

namespace VmConsole.Migration.Tests.Qemu;

/// <summary>Device state a stream brings in goes out unchanged: the same sections, bytes and order, and the description rebuilt from its parts.</summary>
public sealed class DeviceStateRoundTripTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task ImportThenExport_TimerAndApic_SectionBytesOutEqualInWithFreshIdsThenEofAndDescription(bool seekable)
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        byte[] sections = [.. Timer(withSubsection: true), .. Apic(version: 3)];
        var stream = Build("microvm", Microvm, sections, TimerAndApicDescription);
        Stream input = seekable ? new MemoryStream(stream) : new QemuStreams.ForwardOnly(new MemoryStream(stream));
        var imported = await new QemuStreamImport(emulator).ImportAsync("vm1", host, input);

        var output = new MemoryStream();
        var exported = await QemuStreamExport.ExportAsync(imported.Vm, output);

        Assert.Same(imported.Vm.DeviceState, exported.DeviceState);
        var bytes = output.ToArray();
        // Each section whole, in the order it came, with ids after the RAM section's (2); then EOF and the description.
        byte[] expected = [.. Timer(withSubsection: true, id: 3), .. Apic(version: 3, id: 4), QemuFormat.Eof, QemuFormat.VmDescription];
        var at = bytes.AsSpan().IndexOf(expected);
        Assert.True(at > 0, "the device sections, EOF and the description marker are not in the export");
        var json = System.Text.Encoding.UTF8.GetString(bytes, at + expected.Length + 4, bytes.Length - at - expected.Length - 4);
        Assert.Equal(bytes.Length - at - expected.Length - 4, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(at + expected.Length)));
        var rebuilt = JsonNode.Parse(json)!;
        var original = JsonNode.Parse(TimerAndApicDescription)!;
        Assert.Equal(4096, rebuilt["page_size"]!.GetValue<int>());
        Assert.True(JsonNode.DeepEquals(original, rebuilt), json);
        Assert.Equal(["timer", "apic"], rebuilt["devices"]!.AsArray().Select(d => d!["name"]!.GetValue<string>()));
    }

    [Fact]
    public async Task ImportOfTheExport_TimerAndApic_SameSectionsAndBytes()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        var stream = Build("microvm", Microvm, [.. Timer(withSubsection: true), .. Apic(version: 3)], TimerAndApicDescription);
        var first = await new QemuStreamImport(emulator).ImportAsync("vm1", host, new MemoryStream(stream));
        var output = new MemoryStream();
        await QemuStreamExport.ExportAsync(first.Vm, output);

        output.Position = 0;
        var second = await new QemuStreamImport(emulator).ImportAsync("vm2", host, new QemuStreams.ForwardOnly(output));

        var before = first.DeviceState!.Sections;
        var after = second.DeviceState!.Sections;
        Assert.Equal(before.Select(s => (s.IdStr, s.InstanceId, s.VersionId, s.Description)), after.Select(s => (s.IdStr, s.InstanceId, s.VersionId, s.Description)));
        Assert.Equal(before.Select(s => s.State.ToArray()), after.Select(s => s.State.ToArray()));
        Assert.Equal(first.DeviceState.DescriptionFields, second.DeviceState.DescriptionFields);
    }

    [Fact]
    public void Rebuild_FieldsBesideDevices_KeptInTheirOrderWithDevicesLast()
    {
        var description = QemuVmDescription.Parse("""{"page_size": 4096, "x-extra": {"a": [1, 2]}, "devices": [{"name": "timer", "instance_id": 0, "vmsd_name": "timer", "version": 2, "fields": []}], "z": "last"}""");
        var state = new DeviceState([new DeviceSection("timer", 0, 2, new byte[] { 1, 2 }, description.Devices[0].Json)], description.FieldsJson);

        var rebuilt = JsonNode.Parse(QemuVmDescription.Rebuild(state))!.AsObject();

        Assert.Equal(["page_size", "x-extra", "z", "devices"], rebuilt.Select(p => p.Key));
        Assert.Equal(2, rebuilt["x-extra"]!["a"]![1]!.GetValue<int>());
        Assert.Equal("timer", rebuilt["devices"]![0]!["name"]!.GetValue<string>());
    }

    [Fact]
    public async Task Export_VmMadeHere_EndsAtEofAndSaysQemuBootsItFromReset()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        var vm = emulator.CreateVm(new VmDefinition("made-here", host, "microvm", 16 << 20) { Start = true });
        var output = new MemoryStream();

        var result = await QemuStreamExport.ExportAsync(vm, output);

        Assert.Null(vm.DeviceState);
        Assert.Null(result.DeviceState);
        Assert.Equal(QemuFormat.Eof, output.ToArray()[^1]);
        Assert.Contains("QEMU boots it from reset", result.DeviceStateNote, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MigrationBetweenEmulatorHosts_VmWithDeviceState_ArrivesWithTheSameState()
    {
        await using var fixture = new Engine.EngineFixture();
        var source = fixture.CreateVm("vm1", 32);
        var state = new DeviceState([new DeviceSection("cpu", 0, 12, new byte[] { 1, 2, 3 }, """{"name":"cpu"}""")], """{"page_size":4096}""");
        source.SetDeviceState(state);

        var migration = fixture.Engine.Start(new Migration.Engine.MigrationRequest("vm1") { DestinationHost = "host-b" });

        Assert.True(await Engine.EngineFixture.WaitFinishedAsync(migration) == Emulation.MigrationStatus.Completed, Engine.EngineFixture.Describe(migration));
        var arrived = fixture.Emulator.GetVm("vm1");
        Assert.NotSame(source, arrived);
        Assert.Same(state, arrived.DeviceState);
    }

    [Fact]
    public void SetDeviceState_Kept_RaisedAsDevicesChange()
    {
        using var emulator = QemuStreams.NewEmulator(out var host);
        var vm = emulator.CreateVm(new VmDefinition("vm1", host, "microvm", 16 << 20));
        var changes = new List<VmChangeKind>();
        vm.Changed += (_, kind) => changes.Add(kind);
        var state = new DeviceState([new DeviceSection("cpu", 0, 12, new byte[] { 7 }, """{"name":"cpu"}""")], """{"page_size":4096}""");

        vm.SetDeviceState(state);

        Assert.Same(state, vm.DeviceState);
        Assert.Equal([VmChangeKind.Devices], changes);
    }
}
