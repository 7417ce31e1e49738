using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Emulation.Vms;
using VmConsole.Emulation.Workloads;
using VmConsole.Migration.Engine;
using VmConsole.Server.Accounts;
using VmConsole.Server.Domain;
using VmConsole.Migration.Model;
using static VmConsole.Emulation.Sizes;

namespace VmConsole.Server.Api;

internal static class VmsApi
{
    public static void MapVmsApi(this IEndpointRouteBuilder api)
    {
        var vms = api.MapGroup("/vms").WithTags("VMs");
        vms.MapGet("/", ListVms).WithSummary("Every VM by name, with those arriving from QEMU (runState inmigrate)");
        vms.MapPost("/", CreateVm).RequireAuthorization(Roles.CanAdminister)
            .WithSummary("Create a VM on a host of either driver (QEMU machine type, memory, slots; a workload when emulated, a guest program on QEMU)");
        vms.MapGet("/{vm}", (string vm, Emulator emulator, VmInventory inventory, MigrationRegistry migrations) =>
            !inventory.TryGet(vm, out _) && emulator.TryGetArriving(vm, out var arriving) ? arriving.ToDto(migrations) : inventory.Get(vm).ToDto(migrations));
        vms.MapDelete("/{vm}", async (string vm, VmInventory inventory, CancellationToken cancellationToken) =>
        {
            await inventory.DeleteAsync(vm, cancellationToken);
            return Results.NoContent();
        }).RequireAuthorization(Roles.CanAdminister).WithSummary("Delete a VM; a migration it is in is cancelled first, a QEMU process is ended");
        vms.MapPost("/{vm}/power", Power).RequireAuthorization(Roles.CanOperate).WithSummary("start, pause, resume, shutdown or reset");
        vms.MapPut("/{vm}/workload", SetWorkload).RequireAuthorization(Roles.CanAdminister).WithSummary("What the guest does to its memory");
    }

    private static List<VmDto> ListVms(Emulator emulator, VmInventory inventory, MigrationRegistry migrations) =>
        [.. inventory.Vms.Select(v => v.ToDto(migrations))
            .Concat(emulator.Arriving.Where(a => !inventory.TryGet(a.Name, out _)).Select(a => a.ToDto(migrations)))
            .OrderBy(v => v.Name, StringComparer.Ordinal)];

    private static async Task<IResult> CreateVm(CreateVmRequest request, VmInventory inventory, MigrationRegistry migrations, CancellationToken cancellationToken)
    {
        var errors = new RequestErrors();
        var name = errors.Required(request.Name, "name");
        var host = errors.Required(request.Host, "host");
        var machine = errors.Required(request.Machine, "machine");
        var memoryMiB = errors.InRange(request.MemoryMiB, "memoryMiB", 1, Vm.MaxMemoryBytes / MiB);
        var slots = errors.InRange(request.Slots, "slots", 0, Vm.MaxSlots, required: false);
        var maxMemMiB = errors.InRange(request.MaxMemMiB, "maxMemMiB", 0, Vm.MaxMemoryBytes / MiB, required: false);
        var workload = request.Workload is null ? WorkloadSpec.Idle : ParseWorkload(request.Workload, errors);
        var guest = GuestProgram.None;
        if (request.Guest is { } guestName && !RequestErrors.TryParseName(guestName, out guest))
        {
            errors.Add("guest", $"'{VmConsole.Emulation.Names.Shorten(guestName)}' is not a guest program; use none or sweep.");
        }

        var numaNodes = ParseNumaNodes(request.NumaNodes, errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var created = await inventory.CreateAsync(
            new VmDefinition(name, host, machine, memoryMiB * MiB)
            {
                Slots = (int)slots,
                MaxMemBytes = maxMemMiB * MiB,
                Workload = workload,
                Start = request.Start ?? false,
                Guest = guest,
                MainRamBackend = request.MainRamBackend,
                NumaNodes = numaNodes,
            },
            cancellationToken);
        return TypedResults.Created($"/api/vms/{created.Name}", created.ToDto(migrations));
    }

    /// <summary>The request's NUMA nodes, each with its memdev and a size in range; the rest (ids, total) is the domain's to check.</summary>
    private static List<NumaNode> ParseNumaNodes(IReadOnlyList<NumaNodeRequest?>? nodes, RequestErrors errors)
    {
        var parsed = new List<NumaNode>();
        for (var i = 0; i < (nodes?.Count ?? 0); i++)
        {
            if (nodes![i] is not { } node)
            {
                errors.Add($"numaNodes[{i}]", "A NUMA node needs a memdev and a sizeMiB.");
                continue;
            }

            var memdev = errors.Required(node.Memdev, $"numaNodes[{i}].memdev");
            var sizeMiB = errors.InRange(node.SizeMiB, $"numaNodes[{i}].sizeMiB", 1, Vm.MaxMemoryBytes / MiB);
            parsed.Add(new NumaNode(memdev, sizeMiB * MiB));
        }

        return parsed;
    }

    private static async Task<IResult> Power(string vm, PowerRequest request, VmInventory inventory, MigrationRegistry migrations, CancellationToken cancellationToken)
    {
        var errors = new RequestErrors();
        var action = errors.Required(request.Action, "action");
        var parsed = default(PowerAction);
        if (action.Length > 0 && !RequestErrors.TryParseName(action, out parsed))
        {
            errors.Add("action", $"'{VmConsole.Emulation.Names.Shorten(action)}' is not a power action; use start, pause, resume, shutdown or reset.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        var target = inventory.Get(vm);
        await target.PowerAsync(parsed, cancellationToken);
        return TypedResults.Ok(inventory.Get(vm).ToDto(migrations));
    }

    private static IResult SetWorkload(string vm, WorkloadRequest request, Emulator emulator, VmInventory inventory, MigrationRegistry migrations)
    {
        var errors = new RequestErrors();
        var spec = ParseWorkload(request, errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var target = inventory.RequireEmulated(emulator, vm, VmFeatures.Workload, "A console-made workload");
        target.SetWorkload(spec);
        return TypedResults.Ok(target.ToDto(migrations));
    }

    private static WorkloadSpec ParseWorkload(WorkloadRequest request, RequestErrors errors)
    {
        var kindName = errors.Required(request.Kind, "kind");
        var kind = WorkloadKind.Idle;
        if (kindName.Length > 0 && !RequestErrors.TryParseName(kindName, out kind))
        {
            errors.Add("kind", $"'{VmConsole.Emulation.Names.Shorten(kindName)}' is not a workload; use idle, uniform, sweep or hotspot.");
        }

        var rate = errors.InRange(request.PagesPerSecond, "pagesPerSecond", 0, WorkloadSpec.MaxPagesPerSecond, required: false);
        var workingSetMiB = errors.InRange(request.WorkingSetMiB, "workingSetMiB", 0, Vm.MaxMemoryBytes / MiB, required: false);
        return new WorkloadSpec(kind, rate, workingSetMiB * MiB);
    }
}
