using VmConsole.Emulation.Drivers;

namespace VmConsole.Server.Api;

internal static class HostsApi
{
    public static void MapHostsApi(this IEndpointRouteBuilder api)
    {
        var hosts = api.MapGroup("/hosts").WithTags("Hosts");
        hosts.MapGet("/", (VmInventory inventory) =>
            {
                var vms = inventory.Vms;
                return inventory.Hosts.Select(h => h.ToDto(vms.Count(v => v.HostName == h.Name))).ToList();
            })
            .WithSummary("Hosts of every driver with their memory capacity, what their VMs reserve, and why a host is unavailable");
    }
}
