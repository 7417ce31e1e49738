using VmConsole.Emulation;

namespace VmConsole.Server.Api;

internal static class HostsApi
{
    public static void MapHostsApi(this IEndpointRouteBuilder api)
    {
        var hosts = api.MapGroup("/hosts").WithTags("Hosts");
        hosts.MapGet("/", (Emulator emulator) => emulator.Hosts.Select(h => h.ToDto(emulator.VmsOn(h).Count)).ToList())
            .WithSummary("Hosts with their memory capacity and what their VMs reserve");
    }
}
