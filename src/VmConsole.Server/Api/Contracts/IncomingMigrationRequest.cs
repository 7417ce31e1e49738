namespace VmConsole.Server.Api;

/// <param name="Capabilities">The capabilities set on this end, as on a QEMU destination before its source connects: the
/// same object as <c>POST /api/migrations</c> takes, plus <c>xIgnoreShared</c>.</param>
/// <param name="Parameters">The parameters set on this end, the same object as <c>POST /api/migrations</c> takes; a
/// destination uses <c>multifdChannels</c> and <c>multifdCompression</c>, which must equal the source's.</param>
public sealed record IncomingMigrationRequest(
    string? Name, string? Host, string? Uri, IncomingCapabilitiesRequest? Capabilities = null, MigrationParametersRequest? Parameters = null);

/// <summary>
/// The capabilities of <c>POST /api/migrations</c> (<see cref="MigrationCapabilitiesRequest"/>) as a destination takes them:
/// <c>multifd</c>: the source opens <c>multifdChannels</c> more connections to the address (set on both ends, never sent);
/// <c>postcopyRam</c>: the source has postcopy-ram (also learnt from its POSTCOPY_ADVISE; postcopy itself is refused);
/// <c>xIgnoreShared</c>: the source has x-ignore-shared (also learnt from its configuration section). Told and not
/// sent, each is refused with QEMU's words, as a QEMU destination set the same way would. <c>xbzrle</c> pages are
/// decoded with or without it; <c>autoConverge</c>, <c>pauseBeforeSwitchover</c> and <c>events</c> are the source's
/// business and change nothing here.
/// </summary>
public sealed record IncomingCapabilitiesRequest(
    bool? PostcopyRam = null, bool? XIgnoreShared = null, bool? AutoConverge = null, bool? PauseBeforeSwitchover = null,
    bool? Multifd = null, bool? Xbzrle = null, bool? Events = null);
