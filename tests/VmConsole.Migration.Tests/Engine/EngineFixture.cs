using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using VmConsole.Emulation;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;

namespace VmConsole.Migration.Tests.Engine;

/// <summary>An emulator with two hosts and a migration engine, torn down after each test.</summary>
public sealed class EngineFixture : IAsyncDisposable
{
    /// <summary>QEMU's state machine as migration.c walks it on the source (precopy, no postcopy).</summary>
    private static readonly HashSet<(MigrationStatus From, MigrationStatus To)> LegalTransitions =
    [
        (MigrationStatus.Setup, MigrationStatus.Active),
        (MigrationStatus.Setup, MigrationStatus.Cancelling),
        (MigrationStatus.Setup, MigrationStatus.Failing),
        (MigrationStatus.Active, MigrationStatus.PreSwitchover),
        (MigrationStatus.Active, MigrationStatus.Device),
        (MigrationStatus.Active, MigrationStatus.Cancelling),
        (MigrationStatus.Active, MigrationStatus.Failing),
        (MigrationStatus.PreSwitchover, MigrationStatus.Device),
        (MigrationStatus.PreSwitchover, MigrationStatus.Cancelling),
        (MigrationStatus.PreSwitchover, MigrationStatus.Failing),
        (MigrationStatus.Device, MigrationStatus.Completed),
        (MigrationStatus.Device, MigrationStatus.Cancelling),
        (MigrationStatus.Device, MigrationStatus.Failing),
        (MigrationStatus.Cancelling, MigrationStatus.Cancelled),
        (MigrationStatus.Failing, MigrationStatus.Failed),
    ];

    // Written by StatusChanged handlers on whatever thread made the change; read by the test after Finished.
    private readonly ConcurrentDictionary<string, ConcurrentQueue<MigrationStatus>> _raised = new(StringComparer.Ordinal);

    private readonly TestEmulator _emulator;

    // Per migration: how many events it had once the handler above was attached (written in Started, read after Finished).
    private readonly ConcurrentDictionary<string, int> _eventsAtStart = new(StringComparer.Ordinal);

    /// <param name="time">The emulator's and the engine's clock (a fake one for pacing); the system's by default.</param>
    public EngineFixture(TimeProvider? time = null)
    {
        _emulator = new TestEmulator(["host-a", "host-b"], 64 * Sizes.GiB, time);
        Engine = new MigrationEngine(Emulator, time);

        // Started is raised before the worker runs, so this sees every StatusChanged the worker makes. Only a teardown
        // (shutdown, delete) that cancels between the lease being taken and Started can change the state before it.
        Engine.Registry.Started += migration =>
        {
            var raised = _raised.GetOrAdd(migration.Id, _ => new ConcurrentQueue<MigrationStatus>());
            migration.StatusChanged += (_, status) => raised.Enqueue(status);
            _eventsAtStart[migration.Id] = migration.Events.Count;
        };
    }

    public Emulator Emulator => _emulator.Emulator;

    public MigrationEngine Engine { get; }

    public Vm CreateVm(string name, long memoryMiB, WorkloadSpec? workload = null, string machine = "q35", bool start = true) =>
        Emulator.CreateVm(new VmDefinition(name, "host-a", machine, memoryMiB * Sizes.MiB) { Workload = workload ?? WorkloadSpec.Idle, Start = start });

    /// <summary>
    /// A 16 MiB microvm whose guest dirties 8 MiB/s (2,000 random pages/s), migrating to host-b at 1 MiB/s: it can
    /// never converge, so it stays active until cancelled, however slow the machine.
    /// </summary>
    public PrecopyMigration StartNeverConverging(string name, MigrationCapabilities? capabilities = null)
    {
        if (!Emulator.TryGetVm(name, out _))
        {
            // 2 MiB of data first: the first pass takes two seconds at 1 MiB/s, time enough for the guest's thread to
            // dirty pages on a machine that starves it, and a 1 ms downtime limit holds while a single page is dirty.
            var vm = CreateVm(name, 16, new WorkloadSpec(WorkloadKind.Uniform, 2_000), machine: "microvm");
            FillNonZero(vm, 2 * Sizes.MiB);
        }

        return Engine.Start(new MigrationRequest(name)
        {
            DestinationHost = "host-b",
            Parameters = MigrationParameters.Default with { MaxBandwidth = Sizes.MiB, DowntimeLimit = 1 },
            Capabilities = capabilities ?? MigrationCapabilities.Default,
        });
    }

    public static async Task<MigrationStatus> WaitFinishedAsync(PrecopyMigration migration, TimeSpan? within = null)
    {
        await migration.Finished.WaitAsync(within ?? TimeSpan.FromSeconds(60));
        return migration.Status;
    }

    /// <summary>As <see cref="MigrationClock.RunUntilAsync"/>, describing the migration as these tests do when it fails.</summary>
    public static Task RunClockUntilAsync(FakeTimeProvider clock, Vm guest, Func<PrecopyMigration?> migration, Func<bool> done) =>
        MigrationClock.RunUntilAsync(clock, guest, migration, done, Describe);

    /// <summary>Waits until the guest has written <paramref name="pages"/> pages (its memory holds data), at most 20 s.</summary>
    public static Task WaitForPagesWrittenAsync(Vm vm, long pages) =>
        Eventually.Until(() => vm.Workload.PagesWritten >= pages, TimeSpan.FromSeconds(20), () => $"the guest of {vm.Name} wrote only {vm.Workload.PagesWritten} of {pages} pages");

    /// <summary>
    /// Completes once <paramref name="migration"/> has been in <paramref name="status"/> (event-driven, no polling);
    /// fails with a TimeoutException after <paramref name="within"/>, or when the migration finished without reaching it.
    /// </summary>
    public static async Task WaitForStatusAsync(PrecopyMigration migration, MigrationStatus status, TimeSpan within)
    {
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnChanged(VmConsole.Migration.Model.IMigration m, MigrationStatus s)
        {
            if (s == status)
            {
                reached.TrySetResult();
            }
        }

        migration.StatusChanged += OnChanged;
        try
        {
            if (migration.Events.Any(e => e.Status == status))
            {
                return;
            }

            var first = await Task.WhenAny(reached.Task, migration.Finished).WaitAsync(within);
            if (first != reached.Task && !migration.Events.Any(e => e.Status == status))
            {
                Assert.Fail($"{migration} finished without reaching {status.ToQemuName()}: {Describe(migration)}");
            }
        }
        finally
        {
            migration.StatusChanged -= OnChanged;
        }
    }

    /// <summary>
    /// The recorded history is a path through QEMU's state machine: it starts at setup, every step is a legal
    /// transition, no state repeats, it ends in a final state, its times never go back, and StatusChanged fired once
    /// per recorded change (each CAS that won).
    /// </summary>
    public void AssertLegalHistory(PrecopyMigration migration)
    {
        var history = migration.Events.Select(e => e.Status).ToList();
        var text = Describe(migration);
        Assert.True(history.Count >= 2, text);
        Assert.Equal(MigrationStatus.Setup, history[0]);
        Assert.True(history[^1].IsFinal(), text);
        Assert.Equal(history.Count, history.Distinct().Count());
        for (var i = 1; i < history.Count; i++)
        {
            Assert.True(LegalTransitions.Contains((history[i - 1], history[i])), $"illegal {history[i - 1].ToQemuName()} -> {history[i].ToQemuName()} in {text}");
        }

        for (var i = 1; i < migration.Events.Count; i++)
        {
            Assert.True(migration.Events[i - 1].At <= migration.Events[i].At, $"event times go backwards in {text}");
        }

        Assert.Equal(history[^1], migration.Status);

        // Handlers run on the thread that won each swap, so two threads' events may reach them in either order; what
        // must hold is one event per recorded change: every change after the handler was attached, and none twice.
        var raised = _raised.TryGetValue(migration.Id, out var queue) ? queue.ToList() : [];
        var attachedAt = _eventsAtStart.GetValueOrDefault(migration.Id, 1);
        Assert.Equal(raised.Count, raised.Distinct().Count());
        Assert.Subset(history.Skip(1).ToHashSet(), raised.ToHashSet());
        Assert.Superset(history.Skip(attachedAt).ToHashSet(), raised.ToHashSet());
        Assert.True(attachedAt == 1 || migration.Events.Any(e => e.Status == MigrationStatus.Cancelling), $"only a teardown's cancel may come before Started: {text}");
    }

    /// <summary>No half-received VM is left on host-b and it reserves no memory.</summary>
    public void AssertNoIncoming()
    {
        var hostB = Emulator.GetHost("host-b");
        Assert.Empty(Emulator.IncomingOn(hostB));
        Assert.Empty(Emulator.IncomingOn(Emulator.GetHost("host-a")));
        Assert.Equal(Emulator.VmsOn(hostB).Sum(v => v.ReservedBytes), hostB.ReservedBytes);
    }

    public static string Describe(PrecopyMigration migration) =>
        $"{migration} [{string.Join(" -> ", migration.Events.Select(e => e.Status.ToQemuName()))}] error: {migration.ErrorDesc ?? "none"}";

    /// <summary>A unix socket path under the temp directory, well below the 107-byte limit.</summary>
    public static string TempSocketPath()
    {
        var path = Path.Combine(Path.GetTempPath(), $"vmc-{Guid.NewGuid():N}"[..16] + ".sock");
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(path) < 107, path);
        return path;
    }

    /// <summary>Writes a distinct non-zero 8-byte word into the first <paramref name="bytes"/> of main RAM, one per page.</summary>
    public static void FillNonZero(Vm vm, long bytes)
    {
        var word = new byte[8];
        for (long offset = 0; offset < bytes; offset += 4096)
        {
            BitConverter.TryWriteBytes(word, (offset / 4096) + 1);
            vm.MainRam.Write(offset, word);
        }
    }

    /// <summary>SHA-256 over every migratable block's used bytes, in block order, with the idstrs.</summary>
    public static string HashMigratable(Vm vm)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1 << 20];
        foreach (var block in vm.RamBlocks.Where(b => b.Migratable))
        {
            sha.AppendData(System.Text.Encoding.UTF8.GetBytes(block.IdStr));
            for (long offset = 0; offset < block.UsedLength; offset += buffer.Length)
            {
                var chunk = buffer.AsSpan(0, (int)Math.Min(buffer.Length, block.UsedLength - offset));
                block.Read(offset, chunk);
                sha.AppendData(chunk);
            }
        }

        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    /// <summary>Writes a measured figure to the test output.</summary>
    public static void Record(Xunit.Abstractions.ITestOutputHelper output, string line)
    {
        output.WriteLine(line);
    }

    public async ValueTask DisposeAsync()
    {
        await Engine.DisposeAsync();
        _emulator.Dispose();
    }
}
