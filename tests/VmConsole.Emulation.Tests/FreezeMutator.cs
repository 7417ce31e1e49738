using System.Collections.Concurrent;
using VmConsole.Emulation.Freeze;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Emulation.Tests;

/// <summary>
/// The mutator threads of the freeze stress tests (<see cref="FreezeConcurrencyTests"/>, <see cref="FreezeChangeLogTests"/>):
/// each picks operations on a VM at random from a mix the test chooses, runs them while a lease comes and goes, and
/// tallies what happened, so that the test can tell a refusal by the freeze from a failure.
/// </summary>
internal static class FreezeMutator
{
    /// <summary>A guest page: lengths resizes choose are whole pages.</summary>
    public const long Page = 4096;

    /// <summary>What a mutator can do to the VM. A mix names the ones a test races, each as often as it should come up.</summary>
    public enum Op
    {
        SetMigratable,
        UnsetMigratable,
        AddBackend,
        FreeBlock,
        FreeUnusedBackend,
        PlugDimm,
        UnplugDimm,
        Resize,
        GuestResize,
        ReloadRom,
        GuestWrite,
        SetWorkload,
        Reset,
        Pause,
        Resume,
        Shutdown,
        Start,
    }

    /// <summary>The lengths console resizes (<see cref="Op.Resize"/>) choose; guest resizes always choose odd page counts.</summary>
    public enum ConsoleResizes
    {
        /// <summary>Any page count up to the block's maximum.</summary>
        AnyPageCount,

        /// <summary>
        /// Even page counts only, so that a console resize that slipped past the freeze can be told apart from a
        /// guest resize (which may legally change a leased block's length).
        /// </summary>
        EvenPageCounts,
    }

    /// <summary>
    /// What the mutators saw, per operation: successes and refusals by code. Anything but an
    /// <see cref="DomainException"/> is unexpected, and so is a freeze refusal that does not name the block and
    /// the migration's status: every change a mutator makes is to a block, and the holder always has a status.
    /// </summary>
    public sealed class Tally
    {
        public ConcurrentDictionary<Op, int> Succeeded { get; } = new();

        public ConcurrentDictionary<string, int> RefusedByCode { get; } = new();

        public ConcurrentQueue<Exception> Unexpected { get; } = new();

        /// <summary>How many changes the freeze refused (<c>migratable-set-frozen</c>).</summary>
        public int FrozenRefusals => RefusedByCode.GetValueOrDefault(MigratableSetFrozenException.ErrorCode);

        public void Run(Op op, Action action)
        {
            try
            {
                action();
                Succeeded.AddOrUpdate(op, 1, (_, n) => n + 1);
            }
            catch (MigratableSetFrozenException frozen) when (frozen.Block is null || frozen.MigrationStatus.Length == 0)
            {
                Unexpected.Enqueue(frozen);
            }
            catch (DomainException refused)
            {
                RefusedByCode.AddOrUpdate(refused.Code, 1, (_, n) => n + 1);
            }
            catch (Exception other)
            {
                Unexpected.Enqueue(other);
            }
        }

        public override string ToString() =>
            $"succeeded: {string.Join(", ", Succeeded.OrderBy(p => p.Key))}; refused: {string.Join(", ", RefusedByCode.OrderBy(p => p.Key))}";
    }

    /// <summary>
    /// Runs operations picked from <paramref name="mix"/> on <paramref name="vm"/> until <paramref name="running"/>
    /// says stop, recording each in <paramref name="tally"/>. <paramref name="thread"/> seeds the choices and names
    /// what the mutator adds, so that mutators race for the same blocks and devices without repeating each other.
    /// </summary>
    public static void Mutate(Vm vm, Op[] mix, int thread, Tally tally, Func<bool> running, ConsoleResizes consoleResizes)
    {
        var random = new Random(thread * 7919);
        T Pick<T>(IReadOnlyList<T> items) => items[random.Next(items.Count)];
        while (running())
        {
            var blocks = vm.RamBlocks;
            var op = mix[random.Next(mix.Length)];
            switch (op)
            {
                case Op.SetMigratable:
                    tally.Run(op, () => vm.SetMigratable(Pick(blocks).Id, true));
                    break;
                case Op.UnsetMigratable:
                    tally.Run(op, () => vm.SetMigratable(Pick(blocks).Id, false));
                    break;
                case Op.AddBackend:
                    tally.Run(op, () => vm.AddMemoryBackend($"m{thread}-{random.Next(4)}", 4 * MiB));
                    break;
                case Op.FreeBlock:
                    tally.Run(op, () => vm.FreeBlock(Pick(blocks).Id));
                    break;
                case Op.FreeUnusedBackend:
                    // object-del of a backend no device uses: allowed during migration unless it was made migratable.
                    var used = vm.Devices.Select(d => d.Memdev).ToHashSet();
                    var unused = blocks.Where(b => b.BackendId is not null && !used.Contains(b.BackendId)).ToList();
                    if (unused.Count > 0)
                    {
                        tally.Run(op, () => vm.FreeBlock(Pick(unused).Id));
                    }

                    break;
                case Op.PlugDimm:
                    var backends = blocks.Where(b => b.BackendId is not null).Select(b => b.BackendId!).ToList();
                    if (backends.Count > 0)
                    {
                        tally.Run(op, () => vm.PlugDimm($"d{thread}-{random.Next(3)}", Pick(backends)));
                    }

                    break;
                case Op.UnplugDimm:
                    var devices = vm.Devices;
                    if (devices.Length > 0)
                    {
                        tally.Run(op, () => vm.UnplugDimm(Pick(devices).Id));
                    }

                    break;
                case Op.Resize:
                    var resizeable = Pick(blocks.Where(b => b.Resizeable).ToList());
                    var pages = (int)(resizeable.MaxLength / Page);
                    tally.Run(op, () => vm.Resize(
                        resizeable.Id,
                        consoleResizes == ConsoleResizes.EvenPageCounts ? 2 * (1 + random.Next(pages / 2)) * Page : (1 + random.Next(pages)) * Page));
                    break;
                case Op.GuestResize:
                    var grown = Pick(blocks.Where(b => b.Resizeable).ToList());
                    tally.Run(op, () => vm.GuestResize(grown.Id, (1 + 2 * random.Next((int)(grown.MaxLength / Page / 2))) * Page));
                    break;
                case Op.ReloadRom:
                    var roms = blocks.Where(b => b.ReadOnly).ToList();
                    tally.Run(op, () => vm.ReloadRom(Pick(roms).Id));
                    break;
                case Op.SetWorkload:
                    var kind = Pick(Enum.GetValues<WorkloadKind>());
                    tally.Run(op, () => vm.SetWorkload(kind == WorkloadKind.Idle ? WorkloadSpec.Idle : new WorkloadSpec(kind, 1_000 + random.Next(20_000), 16 * MiB)));
                    break;
                case Op.Reset:
                    tally.Run(op, vm.Reset);
                    break;
                case Op.Pause:
                    tally.Run(op, vm.Pause);
                    break;
                case Op.Resume:
                    tally.Run(op, vm.Resume);
                    break;
                case Op.Shutdown:
                    tally.Run(op, () => vm.ShutdownAsync().GetAwaiter().GetResult());
                    break;
                case Op.Start:
                    tally.Run(op, vm.Start);
                    break;
                default:
                    tally.Run(op, () => vm.WriteGuest(random.NextInt64(16 * MiB / 64) * 64, BitConverter.GetBytes(random.NextInt64())));
                    break;
            }

            // The gate is not fair: without a pause now and then, four mutators can starve the lease holder.
            if (random.Next(16) == 0)
            {
                Thread.Sleep(1);
            }
        }
    }
}
