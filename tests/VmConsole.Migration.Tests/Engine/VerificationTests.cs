using System.Buffers;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>Verification at switchover: a destination whose memory differs from the source's ends failed, never completed.</summary>
public sealed class VerificationTests
{
    [Fact]
    public async Task Migrate_DestinationSinkCorruptsOnePage_FailsUnverifiedAndTheSourceKeepsRunning()
    {
        await using var fixture = new EngineFixture();
        var source = fixture.CreateVm("vm1", 16, machine: "microvm");
        EngineFixture.FillNonZero(source, source.MemoryBytes);
        var hash = EngineFixture.HashMigratable(source);
        CorruptingSink? corrupting = null;
        fixture.Engine.Hooks.WrapDestinationSink = (_, sink) => corrupting = new CorruptingSink(sink, "microvm.ram", 5 * 4096);

        var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Parameters = MigrationParameters.Default with { MaxBandwidth = 0 } });

        Assert.True(await EngineFixture.WaitFinishedAsync(migration) == MigrationStatus.Failed, EngineFixture.Describe(migration));
        Assert.Equal(1, corrupting!.Corrupted);
        Assert.DoesNotContain(migration.Events, e => e.Status == MigrationStatus.Completed);
        Assert.False(migration.Verified);
        Assert.Equal("Verification failed: the destination's migratable memory differs from the source's after switchover.", migration.ErrorDesc);
        Assert.Same(source, fixture.Emulator.GetVm("vm1"));
        Assert.Equal(RunState.Running, source.RunState);
        Assert.False(source.Freeze.IsFrozen);
        Assert.Equal(hash, EngineFixture.HashMigratable(source));
        fixture.AssertNoIncoming();
        fixture.AssertLegalHistory(migration);
    }

    /// <summary>Forwards everything, except that the page at one offset of one block lands with its first byte flipped.</summary>
    private sealed class CorruptingSink(IMigrationStreamSink inner, string idStr, long offset) : IMigrationStreamSink
    {
        private int _block = -1;

        public int Corrupted { get; private set; }

        public void OnConfiguration(string machineType) => inner.OnConfiguration(machineType);

        public void OnRamBlocks(IReadOnlyList<RamBlockHeader> blocks)
        {
            inner.OnRamBlocks(blocks);
            _block = blocks.Select(b => b.IdStr).ToList().IndexOf(idStr);
        }

        public void OnZeroPage(int block, long offset, byte fill) => inner.OnZeroPage(block, offset, fill);

        public void OnPage(int block, long pageOffset, ReadOnlySequence<byte> data)
        {
            if (block != _block || pageOffset != offset)
            {
                inner.OnPage(block, pageOffset, data);
                return;
            }

            var page = data.ToArray();
            page[0] ^= 0xFF;
            Corrupted++;
            inner.OnPage(block, pageOffset, new ReadOnlySequence<byte>(page));
        }

        public void OnRamSectionDone(bool end) => inner.OnRamSectionDone(end);

        public void OnVmConsoleState(ReadOnlySequence<byte> payload) => inner.OnVmConsoleState(payload);

        public void OnEof() => inner.OnEof();

        public void OnVmDescription(string json) => inner.OnVmDescription(json);
    }
}
