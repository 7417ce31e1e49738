using VmConsole.Emulation;
using VmConsole.Emulation.Drivers;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Api;

/// <summary>RAM blocks and memory devices of a VM, with QEMU's semantics (object-add/del, device_add/del).</summary>
internal static class RamBlocksApi
{
    public static void MapRamBlocksApi(this IEndpointRouteBuilder api)
    {
        var blocks = api.MapGroup("/vms/{vm}/ramblocks").WithTags("RAM blocks");
        var changeBlocks = blocks.MapGroup("").RequireAuthorization(Roles.CanAdminister);
        blocks.MapGet("/", async (string vm, Emulator emulator, VmInventory inventory, CancellationToken cancellationToken) =>
            !inventory.TryGet(vm, out _) && emulator.TryGetArriving(vm, out var arriving)
                ? arriving.BlocksDto()
                : [.. (await inventory.Get(vm).GetRamBlocksAsync(cancellationToken)).Select(b => b.ToDto())])
            .WithSummary("The RAM block table: x-query-ramblock's columns with each block's backend and device");
        changeBlocks.MapPost("/", AddBackend).WithSummary("Add a memory-backend-ram (object-add; not migratable until plugged)");
        changeBlocks.MapDelete("/{block:int}", async (string vm, int block, VmInventory inventory, CancellationToken cancellationToken) =>
        {
            await inventory.Get(vm).RemoveBlockAsync(block, cancellationToken);
            return Results.NoContent();
        }).WithSummary("Delete a memory backend / free its block (object-del)");
        changeBlocks.MapPut("/{block:int}/migratable", SetMigratable);
        changeBlocks.MapPut("/{block:int}/size", Resize).WithSummary("Resize a resizeable block (qemu_ram_resize)");

        var devices = api.MapGroup("/vms/{vm}/devices").WithTags("Memory devices");
        var changeDevices = devices.MapGroup("").RequireAuthorization(Roles.CanAdminister);
        devices.MapGet("/", async (string vm, Emulator emulator, VmInventory inventory, CancellationToken cancellationToken) =>
            !inventory.TryGet(vm, out _) && emulator.TryGetArriving(vm, out var arriving)
                ? [.. (arriving.Received?.Devices ?? []).Select(d => new DeviceDto(d.Id, d.Driver, d.Memdev, d.Slot, d.Address, d.Size))]
                : (await inventory.Get(vm).GetDevicesAsync(cancellationToken)).Select(d => d.ToDto()).ToList());
        changeDevices.MapPost("/", Plug).WithSummary("device_add pc-dimm,id=ID,memdev=BACKEND");
        changeDevices.MapDelete("/{id}", async (string vm, string id, VmInventory inventory, CancellationToken cancellationToken) =>
        {
            await inventory.Get(vm).UnplugDimmAsync(id, cancellationToken);
            return Results.NoContent();
        }).WithSummary("device_del: on a QEMU VM only a request the guest must answer (pending until DEVICE_DELETED)");
    }

    private static async Task<IResult> AddBackend(string vm, AddBackendRequest request, VmInventory inventory, CancellationToken cancellationToken)
    {
        var errors = new RequestErrors();
        var id = errors.Required(request.BackendId, "backendId");
        var size = errors.InRange(request.SizeBytes, "sizeBytes", 4096, VmConsole.Emulation.Vms.Vm.MaxMemoryBytes);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var block = await inventory.Get(vm).AddBackendAsync(id, size, cancellationToken);
        return TypedResults.Created($"/api/vms/{vm}/ramblocks/{block.Id}", block.ToDto());
    }

    private static IResult SetMigratable(string vm, int block, MigratableRequest request, Emulator emulator, VmInventory inventory)
    {
        var errors = new RequestErrors();
        var migratable = errors.Required(request.Migratable, "migratable");
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var target = inventory.RequireEmulated(emulator, vm, VmFeatures.BlockInternals, "Setting a block's migratable flag");
        target.SetMigratable(block, migratable);
        return TypedResults.Ok(target.ToRow(target.GetBlock(block)).ToDto());
    }

    private static IResult Resize(string vm, int block, ResizeRequest request, Emulator emulator, VmInventory inventory)
    {
        var errors = new RequestErrors();
        var used = errors.InRange(request.UsedLength, "usedLength", 1, VmConsole.Emulation.Vms.Vm.MaxMemoryBytes);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var target = inventory.RequireEmulated(emulator, vm, VmFeatures.BlockInternals, "Resizing a block");
        target.Resize(block, used);
        return TypedResults.Ok(target.ToRow(target.GetBlock(block)).ToDto());
    }

    private static async Task<IResult> Plug(string vm, DeviceRequest request, VmInventory inventory, CancellationToken cancellationToken)
    {
        var errors = new RequestErrors();
        var driver = errors.Required(request.Driver, "driver");
        var id = errors.Required(request.Id, "id");
        var memdev = errors.Required(request.Memdev, "memdev");
        if (driver.Length > 0 && driver != "pc-dimm")
        {
            errors.Add("driver", $"Driver '{Names.Shorten(driver)}' is not a memory device VmConsole models; use pc-dimm.");
        }

        if (errors.Any)
        {
            return errors.ToResult();
        }

        var device = await inventory.Get(vm).PlugDimmAsync(id, memdev, cancellationToken);
        return TypedResults.Created($"/api/vms/{vm}/devices/{device.Id}", device.ToDto());
    }
}
