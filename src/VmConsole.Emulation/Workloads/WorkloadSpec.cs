namespace VmConsole.Emulation.Workloads;

/// <summary>What a VM's guest does to its memory: a kind, pages written per second, and the working set (bytes of main RAM from its start; 0 = all of it).</summary>
public sealed record WorkloadSpec(WorkloadKind Kind, long PagesPerSecond = 0, long WorkingSetBytes = 0)
{
    public const long MaxPagesPerSecond = 10_000_000;

    public static WorkloadSpec Idle { get; } = new(WorkloadKind.Idle);

    /// <summary>Checks the spec against a main RAM of <paramref name="ramBytes"/> bytes and pages of <paramref name="pageSize"/>.</summary>
    public void Validate(long ramBytes, long pageSize)
    {
        if (!Enum.IsDefined(Kind))
        {
            throw DomainException.Invalid(ErrorCodes.InvalidWorkload, $"Unknown workload kind {(int)Kind}.");
        }

        if (PagesPerSecond < 0 || PagesPerSecond > MaxPagesPerSecond)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidWorkloadRate, $"Pages per second must be between 0 and {MaxPagesPerSecond:N0}; got {PagesPerSecond:N0}.");
        }

        if (Kind != WorkloadKind.Idle && PagesPerSecond == 0)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidWorkloadRate, $"A {Kind.ToString().ToLowerInvariant()} workload needs a rate above zero pages per second.");
        }

        if (WorkingSetBytes < 0 || WorkingSetBytes > ramBytes)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidWorkingSet, $"The working set must be between 0 (all RAM) and the VM's {Sizes.Format(ramBytes)}; got {WorkingSetBytes} bytes.");
        }

        if (WorkingSetBytes % pageSize != 0)
        {
            throw DomainException.Invalid(ErrorCodes.InvalidWorkingSet, $"The working set must be a whole number of {pageSize}-byte pages; got {WorkingSetBytes} bytes.");
        }
    }

    public override string ToString() => Kind == WorkloadKind.Idle ? "idle" : $"{Kind.ToString().ToLowerInvariant()} {PagesPerSecond:N0} pages/s";
}
