using System.Text.Json;
using VmConsole.Migration.Engine;
using VmConsole.Migration.Wire;

namespace VmConsole.Server.Domain;

/// <summary>One step of a migration as QEMU's monitors would be told it: the HMP line(s) and the QMP command(s), in order.</summary>
public sealed record MigrationCommand(IReadOnlyList<string> Hmp, IReadOnlyList<string> Qmp);

/// <summary>
/// The QEMU monitor equivalents of what the console does to a migration (the "Show command" of the task log): HMP as a
/// person types it at <c>(qemu)</c>, QMP as JSON a client sends. Capabilities and parameters use QEMU's names.
/// </summary>
public static class MigrationCommands
{
    /// <summary>QEMU's example port for a listening destination, where the console itself used an in-process channel.</summary>
    public const int ExamplePort = 4444;

    /// <summary>The capabilities, the parameters that apply, then <c>migrate</c> to <paramref name="uri"/> (or, for a host of the console, the tcp: a QEMU destination would listen on).</summary>
    public static MigrationCommand Start(MigrationParameters parameters, MigrationCapabilities capabilities, string? uri, string? destinationHost)
    {
        var hmp = new List<string>();
        var qmp = new List<string>();
        var caps = capabilities.EnabledQemuNames().ToList();
        if (caps.Count > 0)
        {
            hmp.AddRange(caps.Select(c => $"migrate_set_capability {c} on"));
            qmp.Add(Qmp("migrate-set-capabilities", new Dictionary<string, object>
            {
                ["capabilities"] = caps.Select(c => new Dictionary<string, object> { ["capability"] = c, ["state"] = true }).ToList(),
            }));
        }

        var values = Parameters(parameters, capabilities).ToList();
        hmp.AddRange(values.Select(p => $"migrate_set_parameter {p.Name} {p.Value}"));
        qmp.Add(Qmp("migrate-set-parameters", values.ToDictionary(p => p.Name, p => p.Value)));

        var target = uri ?? $"tcp:127.0.0.1:{ExamplePort}";
        hmp.Add((uri, destinationHost) switch
        {
            (null, _) => $"# {destinationHost} listens first: migrate_incoming {target} (the console uses an in-process channel instead)",
            (_, { } host) => $"# {host} listens first: migrate_incoming {target}",
            _ => $"# the peer listens first (QEMU started with -incoming {target})",
        });

        hmp.Add($"migrate -d {target}");
        qmp.Add(Qmp("migrate", new Dictionary<string, object> { ["uri"] = target }));
        return new MigrationCommand(hmp, qmp);
    }

    /// <summary>
    /// What the console does to receive from a QEMU (its <c>-incoming</c>), and what that QEMU then runs: with multifd,
    /// the capability and the channel count and compression a destination sets first (the same as the source's).
    /// </summary>
    public static MigrationCommand Incoming(string uri, MigrationParameters? parameters = null, MigrationCapabilities? capabilities = null)
    {
        var hmp = new List<string>();
        var qmp = new List<string>();
        if (capabilities is { Multifd: true } && parameters is not null)
        {
            var values = new List<(string Name, object Value)>
            {
                ("multifd-channels", parameters.MultifdChannels), ("multifd-compression", parameters.MultifdCompression.ToQemuName()),
            };
            hmp.Add("migrate_set_capability multifd on");
            hmp.AddRange(values.Select(p => $"migrate_set_parameter {p.Name} {p.Value}"));
            qmp.Add(Qmp("migrate-set-capabilities", new Dictionary<string, object>
            {
                ["capabilities"] = new[] { new Dictionary<string, object> { ["capability"] = "multifd", ["state"] = true } },
            }));
            qmp.Add(Qmp("migrate-set-parameters", values.ToDictionary(p => p.Name, p => p.Value)));
        }

        hmp.AddRange([$"migrate_incoming {uri}", $"# then, on the source QEMU: migrate -d {uri}"]);
        qmp.Add(Qmp("migrate-incoming", new Dictionary<string, object> { ["uri"] = uri }));
        return new MigrationCommand(hmp, qmp);
    }

    public static MigrationCommand Cancel { get; } = new(["migrate_cancel"], [Qmp("migrate_cancel", null)]);

    public static MigrationCommand Continue { get; } = new(["migrate_continue pre-switchover"], [Qmp("migrate-continue", new Dictionary<string, object> { ["state"] = "pre-switchover" })]);

    public static MigrationCommand Postcopy { get; } = new(["migrate_start_postcopy"], [Qmp("migrate-start-postcopy", null)]);

    /// <summary>The parameters that apply to these capabilities, under QEMU's names: numbers, and QEMU's word for multifd-compression.</summary>
    private static IEnumerable<(string Name, object Value)> Parameters(MigrationParameters p, MigrationCapabilities c)
    {
        yield return ("max-bandwidth", p.MaxBandwidth);
        yield return ("downtime-limit", p.DowntimeLimit);
        if (c.AutoConverge)
        {
            yield return ("cpu-throttle-initial", p.CpuThrottleInitial);
            yield return ("cpu-throttle-increment", p.CpuThrottleIncrement);
            yield return ("max-cpu-throttle", p.MaxCpuThrottle);
            yield return ("throttle-trigger-threshold", p.ThrottleTriggerThreshold);
        }

        if (c.Multifd)
        {
            yield return ("multifd-channels", p.MultifdChannels);
            yield return ("multifd-compression", p.MultifdCompression.ToQemuName());
            if (p.MultifdCompression == MultifdCompression.Zlib)
            {
                yield return ("multifd-zlib-level", p.MultifdZlibLevel);
            }
            else if (p.MultifdCompression == MultifdCompression.Zstd)
            {
                yield return ("multifd-zstd-level", p.MultifdZstdLevel);
            }
        }

        if (c.Xbzrle)
        {
            yield return ("xbzrle-cache-size", p.XbzrleCacheSize);
        }
    }

    private static string Qmp(string execute, Dictionary<string, object>? arguments) =>
        JsonSerializer.Serialize(arguments is null ? new Dictionary<string, object> { ["execute"] = execute } : new Dictionary<string, object> { ["execute"] = execute, ["arguments"] = arguments });
}
