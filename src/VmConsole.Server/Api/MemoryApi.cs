using VmConsole.Emulation;
using VmConsole.Emulation.Blocks;
using VmConsole.Server.Accounts;

namespace VmConsole.Server.Api;

/// <summary>The memory inspector: a RAM block's bytes read and written by offset, as qtest's read and write do for QEMU.</summary>
internal static class MemoryApi
{
    public const int MaxLength = 1 << 20;

    public static void MapMemoryApi(this IEndpointRouteBuilder api)
    {
        var memory = api.MapGroup("/vms/{vm}/ramblocks/{block:int}/memory").WithTags("RAM blocks");
        memory.MapGet("/", Read)
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("The block's bytes at [offset, offset+length) of its used length; length 1 B to 1 MiB (default 4096), offset default 0");
        memory.MapPut("/", WriteAsync)
            .RequireAuthorization(Roles.CanAdminister)
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge)
            .WithSummary("Write the raw body (any content type; 1 B to 1 MiB) at offset, marking their pages dirty; refused with 409 vm-migrating while a migration holds the VM");

        api.MapGet("/vms/{vm}/memory", ReadPhysicalAsync).WithTags("RAM blocks")
            .Produces(StatusCodes.Status200OK, contentType: "application/octet-stream")
            .ProducesProblem(StatusCodes.Status400BadRequest)
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Guest-physical memory of a VM of either driver at [address, address+length), as the guest sees it (QEMU: pmemsave); length 1 B to 1 MiB (default 4096)");
    }

    private static async Task<IResult> ReadPhysicalAsync(string vm, long? address, long? length, VmConsole.Emulation.Drivers.VmInventory inventory, CancellationToken cancellationToken)
    {
        var errors = new RequestErrors();
        var at = errors.InRange(address, "address", 0, long.MaxValue - MaxLength);
        var count = errors.InRange(length ?? 4096, "length", 1, MaxLength);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var target = inventory.Get(vm);
        VmConsole.Emulation.Drivers.VmInventory.Require(target, VmConsole.Emulation.Drivers.VmFeatures.ReadGuestMemory, "Reading guest memory");
        return TypedResults.Bytes(await target.ReadGuestPhysicalAsync(at, (int)count, cancellationToken), "application/octet-stream");
    }

    private static IResult Read(string vm, int block, long? offset, long? length, Emulator emulator, VmConsole.Emulation.Drivers.VmInventory inventory)
    {
        var target = inventory.RequireEmulated(emulator, vm, VmConsole.Emulation.Drivers.VmFeatures.WriteGuestMemory, "Reading a block's memory through the console")
            .GetBlock(block);
        var errors = new RequestErrors();
        var (start, count) = CheckRange(target, offset ?? 0, length ?? Math.Min(4096, target.UsedLength), errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        var bytes = new byte[count];
        Access(target, () => target.Read(start, bytes));
        return TypedResults.Bytes(bytes, "application/octet-stream");
    }

    private static async Task<IResult> WriteAsync(string vm, int block, long? offset, HttpRequest request, Emulator emulator, VmConsole.Emulation.Drivers.VmInventory inventory, CancellationToken cancellationToken)
    {
        var target = inventory.RequireEmulated(emulator, vm, VmConsole.Emulation.Drivers.VmFeatures.WriteGuestMemory, "Writing guest memory");
        var ramBlock = target.GetBlock(block);
        if (request.ContentLength > MaxLength)
        {
            return ApiProblems.Problem(StatusCodes.Status413PayloadTooLarge, ErrorCodes.BodyTooLarge, $"A write is at most {MaxLength:N0} bytes; the body has {request.ContentLength:N0}.");
        }

        var body = new MemoryStream();
        var buffer = new byte[64 << 10];
        int read;
        while ((read = await request.Body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            if (body.Length + read > MaxLength)
            {
                return ApiProblems.Problem(StatusCodes.Status413PayloadTooLarge, ErrorCodes.BodyTooLarge, $"A write is at most {MaxLength:N0} bytes.");
            }

            body.Write(buffer, 0, read);
        }

        var errors = new RequestErrors();
        if (body.Length == 0)
        {
            errors.Add("body", "The body is the bytes to write: at least one.");
        }

        var (start, _) = CheckRange(ramBlock, offset ?? 0, Math.Max(body.Length, 1), errors);
        if (errors.Any)
        {
            return errors.ToResult();
        }

        // A write during a migration would be carried (its page is dirtied), but what the user checks is what the stream carried.
        if (target.Freeze.Lease is { } lease)
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status409Conflict,
                title: "The request conflicts with the current state",
                detail: $"Cannot write memory of RAM block '{ramBlock.DisplayName}' of VM '{target.Name}': migration {lease.Holder.MigrationId} is {lease.Holder.Status.ToQemuName()}; write once it has ended.",
                extensions: new Dictionary<string, object?>
                {
                    ["code"] = ErrorCodes.VmMigrating,
                    ["migrationId"] = lease.Holder.MigrationId,
                    ["migrationStatus"] = lease.Holder.Status.ToQemuName(),
                    ["operation"] = "write-memory",
                    ["block"] = ramBlock.DisplayName,
                    ["vm"] = target.Name,
                });
        }

        Access(ramBlock, () => ramBlock.Write(start, body.GetBuffer().AsSpan(0, (int)body.Length)));
        return TypedResults.NoContent();
    }

    private static (long Offset, int Length) CheckRange(RamBlock block, long offset, long length, RequestErrors errors)
    {
        if (length < 1 || length > MaxLength)
        {
            errors.Add("length", $"'length' must be between 1 and {MaxLength:N0}; got {length:N0}.");
        }

        if (offset < 0 || offset >= block.UsedLength)
        {
            errors.Add("offset", $"'offset' must be between 0 and {block.UsedLength - 1:N0} (the used length of '{block.DisplayName}' is {block.UsedLength:N0}); got {offset:N0}.");
        }
        else if (length is >= 1 and <= MaxLength && offset > block.UsedLength - length)
        {
            errors.Add("length", $"[{offset:N0}, +{length:N0}) ends past the used length of '{block.DisplayName}' ({block.UsedLength:N0} bytes).");
        }

        return (offset, (int)Math.Clamp(length, 0, MaxLength));
    }

    /// <summary>A block freed between the lookup and the access is gone, as if never found.</summary>
    private static void Access(RamBlock block, Action access)
    {
        try
        {
            access();
        }
        catch (ObjectDisposedException)
        {
            throw DomainException.NotFound(ErrorCodes.BlockNotFound, $"RAM block '{block.DisplayName}' was freed.");
        }
    }
}
