using VmConsole.Emulation;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Api;

/// <summary>RAM blocks and memory devices of a VM, with QEMU's semantics (object-add/del, device_add/del).</summary>
internal static class RamBlocksApi
{
    public static void MapRamBlocksApi(this IEndpointRouteBuilder api)
    {
        var blocks = api.MapGroup("/vms/{vm}/ramblocks").WithTags("RAM blocks");
        var changeBlocks = blocks.MapGroup("").RequireAuthorization(Roles.CanAdminister);
        blocks.MapGet("/", (string vm, Emulator emulator) =>
            emulator.TryGetArriving(vm, out var arriving) ? arriving.BlocksDto() : [.. emulator.GetVm(vm).RamBlocks.Select(b => b.ToDto())]);
        changeBlocks.MapPost("/", AddBackend).WithSummary("Add a memory-backend-ram (not migratable until plugged)");
        changeBlocks.MapDelete("/{block:int}", (string vm, int block, Emulator emulator) =>
        {
            emulator.GetVm(vm).FreeBlock(block);
            return Results.NoContent();
        }).WithSummary("Delete a memory backend / free its block");
        changeBlocks.MapPut("/{block:int}/migratable", SetMigratable);
        changeBlocks.MapPut("/{block:int}/size", Resize).WithSummary("Resize a resizeable block (qemu_ram_resize)");

        var devices = api.MapGroup("/vms/{vm}/devices").WithTags("Memory devices");
        var changeDevices = devices.MapGroup("").RequireAuthorization(Roles.CanAdminister);
        devices.MapGet("/", (string vm, Emulator emulator) =>
            emulator.TryGetArriving(vm, out var arriving) ? [.. (arriving.Received?.Devices ?? []).Select(d => d.ToDto())] : emulator.GetVm(vm).Devices.Select(d => d.ToDto()).ToList());
        changeDevices.MapPost("/", Plug).WithSummary("device_add pc-dimm,id=ID,memdev=BACKEND");
        changeDevices.MapDelete("/{id}", (string vm, string id, Emulator emulator) =>
        {
            emulator.GetVm(vm).UnplugDimm(id);
            return Results.NoContent();
        }).WithSummary("device_del");
    }

    private static IResult AddBackend(string vm, AddBackendRequest request, Emulator emulator)
    {
        var errors = new RequestErrors();
        var id = errors.Required(request.BackendId, "backendId");
        var size = errors.InRange(request.SizeBytes, "sizeBytes", 4096, VmConsole.Emulation.Vms.Vm.MaxMemoryBytes);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var block = emulator.GetVm(vm).AddMemoryBackend(id, size);
        return TypedResults.Created($"/api/vms/{vm}/ramblocks/{block.Id}", block.ToDto());
    }

    private static IResult SetMigratable(string vm, int block, MigratableRequest request, Emulator emulator)
    {
        var errors = new RequestErrors();
        var migratable = errors.Required(request.Migratable, "migratable");
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var target = emulator.GetVm(vm);
        target.SetMigratable(block, migratable);
        return TypedResults.Ok(target.GetBlock(block).ToDto());
    }

    private static IResult Resize(string vm, int block, ResizeRequest request, Emulator emulator)
    {
        var errors = new RequestErrors();
        var used = errors.InRange(request.UsedLength, "usedLength", 1, VmConsole.Emulation.Vms.Vm.MaxMemoryBytes);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var target = emulator.GetVm(vm);
        target.Resize(block, used);
        return TypedResults.Ok(target.GetBlock(block).ToDto());
    }

    private static IResult Plug(string vm, DeviceRequest request, Emulator emulator)
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

        var device = emulator.GetVm(vm).PlugDimm(id, memdev);
        return TypedResults.Created($"/api/vms/{vm}/devices/{device.Id}", device.ToDto());
    }
}
