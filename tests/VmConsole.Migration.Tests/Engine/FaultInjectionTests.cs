using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using VmConsole.Emulation;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;
using Xunit.Abstractions;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>
/// Acceptance point 5: the stream cut at random points. Every run must end failed with a reason, and leave the
/// source exactly as it was (paused, same bytes, not frozen) and nothing half-received behind.
/// </summary>
public sealed class FaultInjectionTests(ITestOutputHelper output)
{
    private const int Runs = 200;

    /// <summary>
    /// Cuts stay this far before the end of the stream: bytes the sender has handed to the kernel count as sent, so a
    /// cut that comes after the last write is not seen by the sender at all (as with QEMU, which then reports
    /// completed). A migration's unix socket buffers up to 2 MiB (SO_SNDBUF 1 MiB, which the kernel doubles); the
    /// writer flushes in 1 MiB steps when unthrottled.
    /// </summary>
    private const long UnixMargin = 4 * Sizes.MiB;

    /// <summary>TCP's send buffer on loopback grows up to tcp_wmem's 4 MiB; the peer's receive buffer is pinned at 64 KiB.</summary>
    private const long TcpMargin = 6 * Sizes.MiB;

    [Fact]
    public async Task ExternalPeer_CutAtRandomPoints_200Times_FailsEachTimeAndLeavesThePausedSourceIntact()
    {
        await using var fixture = new EngineFixture();
        var streamLength = await PausedStreamLengthAsync(fixture, "twin");
        var source = NewPausedSource(fixture, "vm1");
        var hash = EngineFixture.HashMigratable(source);
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var errors = new Dictionary<string, int>(StringComparer.Ordinal);
        var clock = Stopwatch.StartNew();

        for (var run = 0; run < Runs; run++)
        {
            var tcp = run % 2 == 1;
            var cutAfter = random.NextInt64(0, streamLength - (tcp ? TcpMargin : UnixMargin));
            using var peer = tcp ? CuttingPeer.TcpReset(cutAfter) : CuttingPeer.Unix(cutAfter);
            var what = $"run {run} (seed {seed}) {peer.Uri} cut after {cutAfter} of {streamLength} bytes";

            var migration = fixture.Engine.Start(new MigrationRequest("vm1") { Uri = peer.Uri, Parameters = MigrationParameters.Default with { MaxBandwidth = 0 } });
            var status = await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(10));

            Assert.True(status == MigrationStatus.Failed, $"{what}: {EngineFixture.Describe(migration)}");
            Assert.False(string.IsNullOrWhiteSpace(migration.ErrorDesc), what);
            Assert.Equal(cutAfter, await peer.Cut.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Same(source, fixture.Emulator.GetVm("vm1"));
            Assert.Equal(RunState.Paused, source.RunState);
            Assert.False(source.Freeze.IsFrozen, what);
            Assert.True(hash == EngineFixture.HashMigratable(source), $"{what}: the source's memory changed");
            fixture.AssertNoIncoming();
            fixture.AssertLegalHistory(migration);
            var kind = string.Concat(migration.ErrorDesc!.Where(c => !char.IsDigit(c)));
            errors[kind] = errors.GetValueOrDefault(kind) + 1;
        }

        EngineFixture.Record(output, $"external cuts: {Runs} runs in {clock.ElapsedMilliseconds} ms, stream {streamLength} bytes, seed {seed}; errors: {string.Join("; ", errors.Select(e => $"{e.Value}x {e.Key}"))}");
    }

    /// <summary>
    /// A migration to a destination host of this server, with a proxy inside its in-process transport that cuts the
    /// stream after a random number of bytes: anywhere from the first byte to the last, the EOF marker alone included.
    /// The destination sees its input end early and refuses it; the sender's pipe breaks. Each run must end failed
    /// with a reason, the paused source exactly as it was, and the half-received VM gone.
    /// </summary>
    [Fact]
    public async Task DestinationHost_CutByAProxyAtRandomPoints_200Times_FailsEachTimeAndLeavesThePausedSourceIntact()
    {
        await using var fixture = new EngineFixture();

        // The stream's length, through the same proxy with nothing cut (a twin of the same shape completes).
        NewPausedSource(fixture, "twin");
        CuttingProxy? measuring = null;
        CuttingProxy.InstallOnce(fixture.Engine, long.MaxValue, p => measuring = p);
        var twin = fixture.Engine.Start(new MigrationRequest("twin") { DestinationHost = "host-b", Parameters = MigrationParameters.Default with { MaxBandwidth = 0 } });
        Assert.True(await EngineFixture.WaitFinishedAsync(twin) == MigrationStatus.Completed, EngineFixture.Describe(twin));
        var streamLength = measuring!.Forwarded;
        Assert.Equal(twin.GetStats().Transferred, streamLength);
        await fixture.Emulator.DeleteVmAsync("twin");

        var source = NewPausedSource(fixture, "vm1");
        var hash = EngineFixture.HashMigratable(source);
        var seed = Environment.TickCount;
        var random = new Random(seed);
        var errors = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var run = 0; run < Runs; run++)
        {
            // The first runs cut at the very edges: nothing, only EOF missing, EOF and the byte before it; then a
            // quarter of the runs within the last 64 KiB (the downtime pass, the state section, EOF), the rest anywhere.
            var cutAfter = run switch
            {
                0 => 0,
                1 => streamLength - 1,
                2 => streamLength - 2,
                _ when run % 4 == 0 => streamLength - 1 - random.NextInt64(0, 64 * Sizes.KiB),
                _ => random.NextInt64(0, streamLength),
            };
            CuttingProxy? proxy = null;
            CuttingProxy.InstallOnce(fixture.Engine, cutAfter, p => proxy = p);
            var what = $"run {run} (seed {seed}) cut after {cutAfter} of {streamLength} bytes";

            var migration = fixture.Engine.Start(new MigrationRequest("vm1") { DestinationHost = "host-b", Parameters = MigrationParameters.Default with { MaxBandwidth = 0 } });
            var status = await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(10));

            Assert.True(status == MigrationStatus.Failed, $"{what}: {EngineFixture.Describe(migration)}");
            Assert.False(string.IsNullOrWhiteSpace(migration.ErrorDesc), what);
            Assert.Equal(cutAfter, await proxy!.Cut.WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.NotEqual(true, migration.Verified);
            Assert.Same(source, fixture.Emulator.GetVm("vm1"));
            Assert.Equal("host-a", source.Host.Name);
            Assert.Equal(RunState.Paused, source.RunState);
            Assert.False(source.Freeze.IsFrozen, what);
            Assert.True(hash == EngineFixture.HashMigratable(source), $"{what}: the source's memory changed");
            fixture.AssertNoIncoming();
            Assert.Equal(0, fixture.Emulator.GetHost("host-b").ReservedBytes);
            fixture.AssertLegalHistory(migration);
            var kind = string.Concat(migration.ErrorDesc!.Where(c => !char.IsDigit(c)));
            errors[kind] = errors.GetValueOrDefault(kind) + 1;
        }

        EngineFixture.Record(output, $"destination-host cuts: {Runs} runs, stream {streamLength} bytes, seed {seed}; errors: {string.Join("; ", errors.Select(e => $"{e.Value}x {e.Key}"))}");
    }

    /// <summary>
    /// The in-process path (a destination host of this server) has no transport to cut: the engine wires a pipe, or a
    /// socket it both listens on and connects to. What a cut does there is what the destination half does with a
    /// stream that stops early, so this feeds a real stream, cut at random points, to the engine's destination sink
    /// on an incoming VM: each must be refused as truncated, and the VM discarded leaves the host as it was.
    /// </summary>
    [Fact]
    public async Task DestinationSink_StreamCutAtRandomPoints_200Times_RefusesItAsTruncated()
    {
        await using var fixture = new EngineFixture();
        var twin = NewPausedSource(fixture, "twin");
        var file = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.mig");
        byte[] stream;
        try
        {
            var migration = fixture.Engine.Start(new MigrationRequest("twin") { Uri = "file:" + file });
            Assert.Equal(MigrationStatus.Completed, await EngineFixture.WaitFinishedAsync(migration));
            stream = await File.ReadAllBytesAsync(file);
        }
        finally
        {
            File.Delete(file);
        }

        var hostB = fixture.Emulator.GetHost("host-b");
        var seed = Environment.TickCount;
        var random = new Random(seed);
        for (var run = 0; run < Runs; run++)
        {
            var cutAfter = random.Next(0, stream.Length);
            var incoming = fixture.Emulator.CreateIncomingVm(twin.Definition with { Host = "host-b" });
            var lease = incoming.Freeze.Acquire(new Holder());
            var error = await Record.ExceptionAsync(async () =>
            {
                using var sink = new DestinationSink(incoming, lease);
                var input = PipeReader.Create(new ReadOnlySequence<byte>(stream.AsMemory(0, cutAfter)));
                await new MigrationStreamReader(input, sink).ReadToEndAsync(CancellationToken.None);
            });
            lease.Dispose();
            fixture.Emulator.DiscardIncoming(incoming);

            var what = $"run {run} (seed {seed}) cut after {cutAfter} of {stream.Length} bytes";
            Assert.True(error is TruncatedStreamException, $"{what}: {error}");
            Assert.Empty(fixture.Emulator.IncomingOn(hostB));
            Assert.Equal(0, hostB.ReservedBytes);
        }
    }

    /// <summary>A file: target that stops taking bytes: a FIFO under the temp directory whose reader goes away.</summary>
    [Fact]
    public async Task FileTarget_ReaderOfAFifoGoesAway_FailsAndReleasesTheSource()
    {
        await using var fixture = new EngineFixture();
        var source = NewPausedSource(fixture, "vm1");
        var hash = EngineFixture.HashMigratable(source);
        var fifo = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.fifo");
        using (var mkfifo = Process.Start("mkfifo", fifo))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        try
        {
            var reader = Task.Run(async () =>
            {
                await using var read = new FileStream(fifo, FileMode.Open, FileAccess.Read);
                var buffer = new byte[1 << 20];
                var total = 0L;
                while (total < 3 * Sizes.MiB)
                {
                    var n = await read.ReadAsync(buffer);
                    if (n == 0)
                    {
                        break;
                    }

                    total += n;
                }

                return total;
            });
            var migration = fixture.Engine.Start(new MigrationRequest("vm1") { Uri = "file:" + fifo, Parameters = MigrationParameters.Default with { MaxBandwidth = 0 } });
            Assert.True(await reader.WaitAsync(TimeSpan.FromSeconds(10)) >= 3 * Sizes.MiB);

            var status = await EngineFixture.WaitFinishedAsync(migration, TimeSpan.FromSeconds(10));

            Assert.True(status == MigrationStatus.Failed, EngineFixture.Describe(migration));
            Assert.False(string.IsNullOrWhiteSpace(migration.ErrorDesc));
            Assert.Equal(RunState.Paused, source.RunState);
            Assert.False(source.Freeze.IsFrozen);
            Assert.Equal(hash, EngineFixture.HashMigratable(source));
            fixture.AssertLegalHistory(migration);
        }
        finally
        {
            File.Delete(fifo);
        }
    }

    /// <summary>A 16 MiB q35 VM, every page of its RAM non-zero, paused (paused VMs migrate too, and stay paused).</summary>
    private static Vm NewPausedSource(EngineFixture fixture, string name)
    {
        var vm = fixture.CreateVm(name, 16);
        EngineFixture.FillNonZero(vm, vm.MemoryBytes);
        vm.Pause();
        return vm;
    }

    /// <summary>The length of the stream a paused source of this shape produces (measured on a twin, through a file).</summary>
    private static async Task<long> PausedStreamLengthAsync(EngineFixture fixture, string name)
    {
        NewPausedSource(fixture, name);
        var file = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}.mig");
        try
        {
            var migration = fixture.Engine.Start(new MigrationRequest(name) { Uri = "file:" + file });
            Assert.Equal(MigrationStatus.Completed, await EngineFixture.WaitFinishedAsync(migration));
            return new FileInfo(file).Length;
        }
        finally
        {
            File.Delete(file);
        }
    }

    private sealed class Holder : IMigrationLeaseHolder
    {
        public string MigrationId => "test-incoming";

        public MigrationStatus Status => MigrationStatus.Active;

        public void RequestCancel(string? error)
        {
        }
    }
}
