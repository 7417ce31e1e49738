using VmConsole.Emulation.Hosts;

namespace VmConsole.Emulation.Vms;

/// <summary>
/// A VM that a migration from outside this server (QEMU's <c>migrate</c>) is bringing in: its name is taken and it is
/// listed in <c>inmigrate</c> from the moment the console listens, like QEMU's <c>-incoming</c> destination. It has no
/// memory until the stream's RAM setup makes <see cref="Received"/>; the VM becomes an ordinary one of the inventory
/// when the migration completes (<see cref="Emulator.CommitIncoming(Vm, ArrivingVm)"/>) and leaves the inventory if it
/// fails or is cancelled (<see cref="Emulator.ReleaseArriving"/>).
/// </summary>
public sealed class ArrivingVm
{
    // Written by the migration's worker (Emulator.AttachReceived), read by anyone.
    private Vm? _received;

    internal ArrivingVm(string name, Host host)
    {
        Name = name;
        Host = host;
    }

    public string Name { get; }

    /// <summary>The identity the received VM gets (and keeps once it runs).</summary>
    public Guid Id { get; } = Guid.NewGuid();

    public Host Host { get; }

    /// <summary>Always <c>inmigrate</c>: an arriving VM leaves that state only by becoming an ordinary VM or by leaving.</summary>
    public RunState RunState => RunState.InMigrate;

    /// <summary>The VM the stream's RAM setup made (its machine and blocks), or null while the console waits for the stream.</summary>
    public Vm? Received => Volatile.Read(ref _received);

    internal void Attach(Vm vm) => Volatile.Write(ref _received, vm);
}
