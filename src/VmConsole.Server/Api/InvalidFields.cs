using System.Text.RegularExpressions;
using VmConsole.Emulation;

namespace VmConsole.Server.Api;

/// <summary>
/// Which request field a 400 is about, for the problem's <c>errors</c>: the domain names the rule it enforced
/// (its code), the request's path tells which body it was, and the JSON reader gives the path of a bad value.
/// </summary>
internal static partial class InvalidFields
{
    /// <summary>The body as a whole (it is not JSON, or not an object).</summary>
    public const string Body = "$";

    /// <summary>A rule about the request that belongs to no single field.</summary>
    public const string Request = "";

    public static string FieldOf(EmulationException refusal, PathString path) => refusal.Code switch
    {
        "invalid-name" => "name",
        "invalid-id" => path.Value?.EndsWith("/ramblocks", StringComparison.Ordinal) == true ? "backendId" : "id",
        "invalid-parameter" => ParameterName().Match(refusal.Message) is { Success: true } m ? $"parameters.{m.Groups[1].Value}" : "parameters",
        "unsupported-capability" => CapabilityName().Match(refusal.Message) is { Success: true } m ? $"capabilities.{m.Groups[1].Value}" : "capabilities",
        "invalid-uri" => "uri",
        "destination-needed" => "destinationHost",
        "invalid-machine" => "machine",
        "invalid-memory-size" => "memoryMiB",
        "invalid-slots" or "hotplug-unsupported" => "slots",
        "invalid-maxmem" => "maxMemMiB",
        "invalid-workload" => "kind",
        "invalid-workload-rate" => "pagesPerSecond",
        "invalid-working-set" => "workingSetMiB",
        "invalid-power-action" => "action",
        "invalid-size" => "sizeBytes",
        "invalid-used-length" or "unaligned-used-length" or "used-length-exceeds-max" => "usedLength",
        _ => Request,
    };

    /// <summary>"$.parameters.maxBandwidth" is "parameters.maxBandwidth"; a query or route value its name; otherwise the body.</summary>
    public static string FieldOf(BadHttpRequestException bad) => bad.InnerException switch
    {
        System.Text.Json.JsonException { Path: { Length: > 2 } path } when path.StartsWith("$.", StringComparison.Ordinal) => path[2..],
        System.Text.Json.JsonException => Body,
        _ => BoundParameter().Match(bad.Message) is { Success: true } m ? m.Groups[1].Value : Body,
    };

    [GeneratedRegex(@"^Migration parameter '(\w+)'", RegexOptions.CultureInvariant)]
    private static partial Regex ParameterName();

    [GeneratedRegex(@"^Capability '(\w+)'", RegexOptions.CultureInvariant)]
    private static partial Regex CapabilityName();

    [GeneratedRegex(@"^Failed to bind parameter ""[^""]*?(\w+)"" from", RegexOptions.CultureInvariant)]
    private static partial Regex BoundParameter();
}
