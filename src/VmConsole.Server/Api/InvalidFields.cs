using System.Globalization;
using System.Reflection;
using Microsoft.AspNetCore.Http.Metadata;
using VmConsole.Emulation;

namespace VmConsole.Server.Api;

/// <summary>
/// Which request field a 400 is about, for the problem's <c>errors</c>: the domain names the rule it enforced
/// (its code) and the argument (its field), the request's path tells which body it was, the JSON reader gives the
/// path of a bad value, and the endpoint's parameters the query or route value that does not parse. No message is
/// read for it.
/// </summary>
internal static class InvalidFields
{
    /// <summary>The body as a whole (it is not JSON, or not an object).</summary>
    public const string Body = "$";

    /// <summary>A rule about the request that belongs to no single field.</summary>
    public const string Request = "";

    public static string FieldOf(DomainException refusal, PathString path) => refusal.Field is { } layout && IsLayoutField(layout) ? layout : refusal.Code switch
    {
        ErrorCodes.InvalidName => "name",
        ErrorCodes.InvalidId => path.Value?.EndsWith("/ramblocks", StringComparison.Ordinal) == true ? "backendId" : "id",
        ErrorCodes.InvalidParameter => refusal.Field is { } parameter ? $"parameters.{parameter}" : "parameters",
        ErrorCodes.UnsupportedCapability or ErrorCodes.MultifdNotSupportedByProtocol => refusal.Field is { } capability ? $"capabilities.{capability}" : "capabilities",
        ErrorCodes.InvalidUri => "uri",
        ErrorCodes.DestinationNeeded => "destinationHost",
        ErrorCodes.InvalidMachine => "machine",
        ErrorCodes.InvalidMemorySize => "memoryMiB",
        ErrorCodes.InvalidSlots or ErrorCodes.HotplugUnsupported => "slots",
        ErrorCodes.InvalidMaxmem => "maxMemMiB",
        ErrorCodes.InvalidWorkload => "kind",
        ErrorCodes.InvalidWorkloadRate => "pagesPerSecond",
        ErrorCodes.InvalidWorkingSet => "workingSetMiB",
        ErrorCodes.InvalidPowerAction => "action",
        ErrorCodes.InvalidSize => "sizeBytes",
        ErrorCodes.InvalidUsedLength or ErrorCodes.UnalignedUsedLength or ErrorCodes.UsedLengthExceedsMax => "usedLength",
        _ => Request,
    };

    /// <summary>A VM's RAM layout (main RAM backend, NUMA nodes): the domain names the field itself, down to the node.</summary>
    private static bool IsLayoutField(string field) =>
        field == "mainRamBackend" || field.StartsWith("numaNodes", StringComparison.Ordinal);

    /// <summary>"$.parameters.maxBandwidth" is "parameters.maxBandwidth"; a query or route value its name; otherwise the body.</summary>
    public static string FieldOf(BadHttpRequestException bad, Endpoint? endpoint, HttpRequest request, RouteValueDictionary? routeValues) => bad.InnerException switch
    {
        System.Text.Json.JsonException { Path: { Length: > 2 } path } when path.StartsWith("$.", StringComparison.Ordinal) => path[2..],
        System.Text.Json.JsonException => Body,
        _ => UnparsableValue(endpoint, request, routeValues ?? request.RouteValues) ?? Body,
    };

    /// <summary>The first of the endpoint's parsed parameters whose route or query value does not parse as its type.</summary>
    private static string? UnparsableValue(Endpoint? endpoint, HttpRequest request, RouteValueDictionary routeValues)
    {
        foreach (var parameter in endpoint?.Metadata.GetOrderedMetadata<IParameterBindingMetadata>() ?? [])
        {
            var raw = routeValues.TryGetValue(parameter.Name, out var routed) ? routed as string
                : request.Query.TryGetValue(parameter.Name, out var queried) ? queried.ToString() : null;
            if (parameter.HasTryParse && raw is not null && !Parses(parameter.ParameterInfo.ParameterType, raw))
            {
                return parameter.Name;
            }
        }

        return null;
    }

    private static bool Parses(Type type, string raw)
    {
        var target = Nullable.GetUnderlyingType(type) ?? type;
        if (target == typeof(string))
        {
            return true;
        }

        var tryParse = target.GetMethod("TryParse", BindingFlags.Public | BindingFlags.Static, [typeof(string), typeof(IFormatProvider), target.MakeByRefType()]);
        return tryParse is null || (bool)tryParse.Invoke(null, [raw, CultureInfo.InvariantCulture, null])!;
    }
}
