namespace VmConsole.Server.Api;

/// <param name="Capabilities">The source's capabilities that change how its stream reads, as a QEMU destination is told them.</param>
public sealed record IncomingMigrationRequest(string? Name, string? Host, string? Uri, IncomingCapabilitiesRequest? Capabilities = null);

/// <summary>
/// <c>postcopyRam</c>: the source has postcopy-ram (also learnt from its POSTCOPY_ADVISE; postcopy itself is refused);
/// <c>xIgnoreShared</c>: the source has x-ignore-shared (also learnt from its configuration section). Told and not
/// sent, each is refused with QEMU's words, as a QEMU destination set the same way would.
/// </summary>
public sealed record IncomingCapabilitiesRequest(bool? PostcopyRam, bool? XIgnoreShared);
