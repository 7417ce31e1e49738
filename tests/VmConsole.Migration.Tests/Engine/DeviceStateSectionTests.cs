using System.IO.Pipelines;
using System.Text.Json;
using VmConsole.Emulation;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Tests.Wire;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>The VmConsole device-state section: sent to VmConsole peers, left out for QEMU (QemuCompatible).</summary>
public sealed class DeviceStateSectionTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Migrate_ToFile_StateSectionOnlyWithoutQemuCompatible(bool qemuCompatible)
    {
        await using var fixture = new EngineFixture();
        fixture.CreateVm("vm1", 16, machine: "microvm");
        var file = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.mig");
        try
        {
            var migration = fixture.Engine.Start(new MigrationRequest("vm1") { Uri = "file:" + file, QemuCompatible = qemuCompatible });
            Assert.True(await EngineFixture.WaitFinishedAsync(migration) == MigrationStatus.Completed, EngineFixture.Describe(migration));
            var bytes = await File.ReadAllBytesAsync(file);

            var sink = new StateCapturingSink();
            await new MigrationStreamReader(PipeReader.Create(new System.Buffers.ReadOnlySequence<byte>(bytes)), sink).ReadToEndAsync(CancellationToken.None);

            Assert.Equal("eof", sink.Recorded.Events[^1]);
            var hasSectionName = bytes.AsSpan().IndexOf("vmconsole/state"u8) >= 0;
            if (qemuCompatible)
            {
                Assert.DoesNotContain(sink.Recorded.Events, e => e.StartsWith("state ", StringComparison.Ordinal));
                Assert.Null(sink.State);
                Assert.False(hasSectionName);
            }
            else
            {
                Assert.Single(sink.Recorded.Events, e => e.StartsWith("state ", StringComparison.Ordinal));
                Assert.Equal("eof", sink.Recorded.Events[^1]);
                Assert.Equal("state", sink.Recorded.Events[^2].Split(' ')[0]);
                using var state = JsonDocument.Parse(sink.State!);
                Assert.Equal("running", state.RootElement.GetProperty("runState").GetString());
                Assert.True(hasSectionName);
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>The recording sink, plus the state section's payload as text.</summary>
    private sealed class StateCapturingSink : IMigrationStreamSink
    {
        public RecordingSink Recorded { get; } = new();

        public string? State { get; private set; }

        public void OnConfiguration(string machineType) => Recorded.OnConfiguration(machineType);

        public void OnRamBlocks(IReadOnlyList<RamBlockHeader> blocks) => Recorded.OnRamBlocks(blocks);

        public void OnZeroPage(int block, long offset, byte fill) => Recorded.OnZeroPage(block, offset, fill);

        public void OnPage(int block, long offset, System.Buffers.ReadOnlySequence<byte> data) => Recorded.OnPage(block, offset, data);

        public void OnRamSectionDone(bool end) => Recorded.OnRamSectionDone(end);

        public void OnVmConsoleState(System.Buffers.ReadOnlySequence<byte> payload)
        {
            Recorded.OnVmConsoleState(payload);
            State = System.Text.Encoding.UTF8.GetString(System.Buffers.BuffersExtensions.ToArray(payload));
        }

        public void OnEof() => Recorded.OnEof();

        public void OnVmDescription(string json) => Recorded.OnVmDescription(json);
    }
}
